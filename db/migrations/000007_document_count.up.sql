-- document_count counts every observation of an integration, whichever path wrote it. Before this
-- release backfills did not count theirs; recount every row from the observations themselves.
UPDATE lightfast_workspace_integrations wi
SET document_count = c.n
FROM (
    SELECT wi2.id, count(o.id)::int AS n
    FROM lightfast_workspace_integrations wi2
    LEFT JOIN lightfast_workspace_observations o ON o.integration_id = wi2.id
    GROUP BY wi2.id
) AS c
WHERE wi.id = c.id AND wi.document_count IS DISTINCT FROM c.n;
