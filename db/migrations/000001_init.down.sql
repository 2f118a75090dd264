DROP TABLE IF EXISTS lightfast_workspace_observations;
DROP TABLE IF EXISTS lightfast_workspace_integrations;
DROP TABLE IF EXISTS lightfast_org_workspaces;
DROP TABLE IF EXISTS lightfast_gw_oauth_states;
DROP TABLE IF EXISTS lightfast_gw_webhook_deliveries;
DROP TABLE IF EXISTS lightfast_gw_resources;
DROP TABLE IF EXISTS lightfast_gw_tokens;
DROP TABLE IF EXISTS lightfast_gw_installations;
