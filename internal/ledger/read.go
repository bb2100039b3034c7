package ledger

import (
	"context"

	"github.com/plimsoll/plimsoll/internal/store"
)

// Read fills in.Events (all of them) and in.Incidents (from in.Since on) from st.
func Read(ctx context.Context, st store.Store, in Input) (Input, error) {
	events, err := st.PatchEvents(ctx, store.PatchFilter{})
	if err != nil {
		return in, err
	}
	incidents, err := st.Incidents(ctx, store.IncidentFilter{Since: in.Since})
	if err != nil {
		return in, err
	}
	in.Events, in.Incidents = events, incidents
	return in, nil
}
