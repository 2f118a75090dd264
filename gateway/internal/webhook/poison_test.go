package webhook_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// TestSecurityCachedRouteToAnUnknownInstallation: Redis holds routes naming an installation id this
// database does not have (a second database behind the same Redis, a restore from backup). No delivery
// is recorded under that id (where the console would find nothing and mark it ignored): each is routed
// again from the database, to its real installation or as unrouted, and the cache is corrected.
func TestSecurityCachedRouteToAnUnknownInstallation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redis, prefix := dbtest.Redis(t)
	// The in-process route cache on, so a wrong route found in Redis would be kept there too.
	b := setup(t, options{redis: redis, prefix: prefix, localTTL: time.Minute})
	const foreign = "inst_from_another_database"
	keys := routing.Keys{Prefix: prefix}
	poisoned := []string{
		keys.Installation(types.GitHub, "1"),   // the fixtures' installation: exists here under another id
		keys.Resource(types.Vercel, "prj_1"),   // a resource route
		keys.Installation(types.GitHub, "999"), // an installation this database has never seen
	}
	for _, k := range poisoned {
		require.NoError(t, redis.Do(ctx, redis.B().Set().Key(k).Value(foreign).Build()).Error())
	}
	cached := func(key string) string {
		v, err := redis.Do(ctx, redis.B().Get().Key(key).Build()).ToString()
		if rueidis.IsRedisNil(err) {
			return ""
		}
		require.NoError(t, err)
		return v
	}
	requireRow := func(id, installationID, status string, jobs int) {
		t.Helper()
		row, err := dbq.New(b.pool).GetDelivery(ctx, id)
		require.NoError(t, err)
		require.Equal(t, status, row.Status)
		if installationID == "" {
			require.Nil(t, row.InstallationID)
		} else {
			require.NotNil(t, row.InstallationID)
			require.Equal(t, installationID, *row.InstallationID)
		}
		require.Len(t, b.jobsFor(t, id), jobs)
	}

	// GitHub, routed by installation: twice, the second through the corrected in-process entry.
	push := fixture(t, "push/with-installation.payload.json")
	for _, delivery := range []string{"poison-1", "poison-2"} {
		status, resp := b.post(t, "github", push, githubHeaders("gh-new", "push", delivery, push))
		require.Equal(t, http.StatusAccepted, status)
		require.Equal(t, "accepted", resp.Status)
		requireRow(resp.ID, b.inst[types.GitHub], "received", 1)
	}
	require.Equal(t, b.inst[types.GitHub], cached(poisoned[0]), "the cache now holds the database's answer")

	// Vercel, routed by resource.
	vercel := []byte(`{"id":"evt_poison","type":"deployment.succeeded","createdAt":1,"payload":{"project":{"id":"prj_1"},"deployment":{"id":"dpl_1"}}}`)
	h := http.Header{}
	h.Set("x-vercel-signature", providersim.SignVercel("vc-secret", vercel))
	status, resp := b.post(t, "vercel", vercel, h)
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "accepted", resp.Status)
	requireRow(resp.ID, b.inst[types.Vercel], "received", 1)
	require.Equal(t, b.inst[types.Vercel], cached(poisoned[1]))

	// No route in the database: unrouted (kept, no job), and the wrong entry is gone.
	issue := []byte(`{"action":"opened","installation":{"id":999},"repository":{"id":5}}`)
	status, resp = b.post(t, "github", issue, githubHeaders("gh-new", "issues", "poison-3", issue))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "unrouted", resp.Status)
	requireRow(resp.ID, "", "unrouted", 0)
	require.Empty(t, cached(poisoned[2]))

	var underForeign, total int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE installation_id = $1), count(*) FROM lightfast_gw_webhook_deliveries`, foreign).
		Scan(&underForeign, &total))
	require.Zero(t, underForeign, "nothing recorded under the foreign id")
	require.Equal(t, 4, total)
}
