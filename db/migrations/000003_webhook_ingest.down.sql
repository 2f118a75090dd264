ALTER TABLE lightfast_gw_webhook_deliveries ALTER COLUMN payload SET COMPRESSION default;
