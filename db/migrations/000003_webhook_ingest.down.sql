ALTER TABLE lightfast_gw_webhook_deliveries
    ALTER COLUMN id TYPE varchar(191) COLLATE "default",
    ALTER COLUMN provider TYPE varchar(32) COLLATE "default",
    ALTER COLUMN delivery_id TYPE varchar(191) COLLATE "default",
    ALTER COLUMN status TYPE varchar(32) COLLATE "default";
ALTER TABLE lightfast_gw_webhook_deliveries ALTER COLUMN payload SET COMPRESSION default;
