-- reserved for 0010_queue_history; replaced by the change that needs it
SELECT 1;
