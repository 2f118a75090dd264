-- Webhook ingest storage (gateway).
--
-- Delivery payloads are JSON of a few KB and are written on the ingest hot path. Above ~2 KB Postgres
-- compresses a value before storing it, with pglz by default, which costs more CPU per row than the rest
-- of the insert; lz4 compresses JSON as well at a fraction of the cost. Servers built without lz4 keep
-- pglz (the statement is skipped, not failed).
DO $$
BEGIN
    ALTER TABLE lightfast_gw_webhook_deliveries ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available; delivery payloads stay pglz-compressed';
END
$$;

-- Delivery ids, provider names and row ids are opaque ASCII compared only for equality and keyset order.
-- Under a libc collation (C.UTF-8, en_US.UTF-8 …) every index comparison goes through strcoll; with
-- COLLATE "C" it is a byte comparison, which cut the btree work of the ingest insert (three indexes)
-- noticeably. Only this table's own indexes use these columns.
ALTER TABLE lightfast_gw_webhook_deliveries
    ALTER COLUMN id TYPE varchar(191) COLLATE "C",
    ALTER COLUMN provider TYPE varchar(32) COLLATE "C",
    ALTER COLUMN delivery_id TYPE varchar(191) COLLATE "C",
    ALTER COLUMN status TYPE varchar(32) COLLATE "C";
