-- reserved for 0012_mta_sts_tls_reports; replaced by the change that needs it
SELECT 1;
