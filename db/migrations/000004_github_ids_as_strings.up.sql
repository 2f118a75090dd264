-- GitHub ids in JSON columns are numeric strings, as the seed types them (SPEC §4.1, §4.7): resource_meta's
-- installationId and repoId, and provider_account_info's installations[].id and accountId. Rows written
-- with JSON numbers before are rewritten; readers accept both shapes, so this only makes the stored shape
-- uniform (and comparisons like resource_meta->>'repoId' behave the same either way).

UPDATE lightfast_workspace_integrations
SET resource_meta = resource_meta
        || CASE WHEN jsonb_typeof(resource_meta->'installationId') = 'number'
                THEN jsonb_build_object('installationId', resource_meta->>'installationId') ELSE '{}'::jsonb END
        || CASE WHEN jsonb_typeof(resource_meta->'repoId') = 'number'
                THEN jsonb_build_object('repoId', resource_meta->>'repoId') ELSE '{}'::jsonb END
WHERE jsonb_typeof(resource_meta) = 'object'
  AND resource_meta->>'sourceType' = 'github'
  AND (jsonb_typeof(resource_meta->'installationId') = 'number' OR jsonb_typeof(resource_meta->'repoId') = 'number');

-- Elements that are not objects are left as they are (a reader reports such a row; it is not guessed at).
UPDATE lightfast_gw_installations
SET provider_account_info = jsonb_set(provider_account_info, '{installations}', (
        SELECT coalesce(jsonb_agg(
            CASE WHEN jsonb_typeof(inst) = 'object' THEN inst
                || CASE WHEN jsonb_typeof(inst->'id') = 'number'
                        THEN jsonb_build_object('id', inst->>'id') ELSE '{}'::jsonb END
                || CASE WHEN jsonb_typeof(inst->'accountId') = 'number'
                        THEN jsonb_build_object('accountId', inst->>'accountId') ELSE '{}'::jsonb END
            ELSE inst END
            ORDER BY ord), '[]'::jsonb)
        FROM jsonb_array_elements(provider_account_info->'installations') WITH ORDINALITY AS e(inst, ord)))
WHERE jsonb_typeof(provider_account_info) = 'object'
  AND provider_account_info->>'sourceType' = 'github'
  AND jsonb_typeof(provider_account_info->'installations') = 'array'
  AND EXISTS (
        SELECT 1 FROM jsonb_array_elements(provider_account_info->'installations') AS e(inst)
        WHERE jsonb_typeof(inst) = 'object'
          AND (jsonb_typeof(inst->'id') = 'number' OR jsonb_typeof(inst->'accountId') = 'number'));
