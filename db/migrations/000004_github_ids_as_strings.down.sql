-- Back to JSON numbers for the GitHub ids that are numeric strings (the shape builds before 000004 read).

UPDATE lightfast_workspace_integrations
SET resource_meta = resource_meta
        || CASE WHEN jsonb_typeof(resource_meta->'installationId') = 'string' AND resource_meta->>'installationId' ~ '^[0-9]{1,18}$'
                THEN jsonb_build_object('installationId', (resource_meta->>'installationId')::bigint) ELSE '{}'::jsonb END
        || CASE WHEN jsonb_typeof(resource_meta->'repoId') = 'string' AND resource_meta->>'repoId' ~ '^[0-9]{1,18}$'
                THEN jsonb_build_object('repoId', (resource_meta->>'repoId')::bigint) ELSE '{}'::jsonb END
WHERE jsonb_typeof(resource_meta) = 'object'
  AND resource_meta->>'sourceType' = 'github'
  AND (jsonb_typeof(resource_meta->'installationId') = 'string' OR jsonb_typeof(resource_meta->'repoId') = 'string');

UPDATE lightfast_gw_installations
SET provider_account_info = jsonb_set(provider_account_info, '{installations}', (
        SELECT coalesce(jsonb_agg(
            CASE WHEN jsonb_typeof(inst) = 'object' THEN inst
                || CASE WHEN jsonb_typeof(inst->'id') = 'string' AND inst->>'id' ~ '^[0-9]{1,18}$'
                        THEN jsonb_build_object('id', (inst->>'id')::bigint) ELSE '{}'::jsonb END
                || CASE WHEN jsonb_typeof(inst->'accountId') = 'string' AND inst->>'accountId' ~ '^[0-9]{1,18}$'
                        THEN jsonb_build_object('accountId', (inst->>'accountId')::bigint) ELSE '{}'::jsonb END
            ELSE inst END
            ORDER BY ord), '[]'::jsonb)
        FROM jsonb_array_elements(provider_account_info->'installations') WITH ORDINALITY AS e(inst, ord)))
WHERE jsonb_typeof(provider_account_info) = 'object'
  AND provider_account_info->>'sourceType' = 'github'
  AND jsonb_typeof(provider_account_info->'installations') = 'array'
  AND EXISTS (
        SELECT 1 FROM jsonb_array_elements(provider_account_info->'installations') AS e(inst)
        WHERE jsonb_typeof(inst) = 'object'
          AND (jsonb_typeof(inst->'id') = 'string' OR jsonb_typeof(inst->'accountId') = 'string'));
