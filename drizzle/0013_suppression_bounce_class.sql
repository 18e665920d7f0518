-- reserved for 0013_suppression_bounce_class; replaced by the change that needs it
SELECT 1;
