-- reserved for 0014_traffic_shaping; replaced by the change that needs it
SELECT 1;
