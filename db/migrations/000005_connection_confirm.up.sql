-- The confirm step of a connection (SPEC §5.1): the connect callback writes an installation `pending` and
-- the Console activates it once the signed-in user who started the flow confirms it. A pending
-- installation that nobody confirmed by pending_expires_at is removed by the gateway's sweep.
ALTER TABLE lightfast_gw_installations ADD COLUMN pending_expires_at timestamptz;

-- The sweep's scan: only pending rows, oldest deadline first.
CREATE INDEX gw_installations_pending_expires_at_idx
    ON lightfast_gw_installations (pending_expires_at) WHERE status = 'pending';
