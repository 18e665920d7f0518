-- reserved for 0011_dkim_keys; replaced by the change that needs it
SELECT 1;
