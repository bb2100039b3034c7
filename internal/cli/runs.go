package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// storeHelp says where runs are recorded.
const storeHelp = `run history: a SQLite file path or sqlite:///path, postgres://… for a team server,
"none" to record nothing (default: $PLIMSOLL_STORE, else SQLite in the user's state directory)`

// storeDSN is the store a command uses: the flag, else $PLIMSOLL_STORE, else the default.
func storeDSN(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("PLIMSOLL_STORE")
}

// openHistory opens the store a command reads history from; "none" is a usage error there.
func openHistory(ctx context.Context, flag string) (store.Store, error) {
	dsn := storeDSN(flag)
	if dsn == "none" {
		return nil, fmt.Errorf("%w: --store none: there is no history to read", ErrUsage)
	}
	st, err := open.Open(ctx, dsn)
	if errors.Is(err, open.ErrBadDSN) {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return st, err
}

func newRunsCmd() *cobra.Command {
	var (
		dsn, image, decision, output string
		limit                        int
		since                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "runs [RUN-ID]",
		Short: "List past runs, or show one",
		Long: `runs lists the recorded runs of plimsoll check, newest first, or with a run id shows that
run's report again.`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("%w: --output %q: use text or json", ErrUsage, output)
			}
			ctx := cmd.Context()
			st, err := openHistory(ctx, dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			w := cmd.OutOrStdout()
			if len(args) == 1 {
				rep, err := st.GetRun(ctx, args[0])
				if err != nil {
					return err
				}
				enc := report.Encoder(report.Text{Color: isTerminal(w)})
				if output == "json" {
					enc = report.JSON{}
				}
				return enc.Encode(w, rep)
			}
			f := store.Filter{Image: image, Decision: verdict.Decision(decision), Limit: limit}
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			runs, err := st.ListRuns(ctx, f)
			if err != nil {
				return err
			}
			if output == "json" {
				e := json.NewEncoder(w)
				e.SetIndent("", "  ")
				return e.Encode(runs)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tFINISHED\tDECISION\tUPGRADE\tOLD → NEW")
			for _, r := range runs {
				from := r.OldRef
				if from == "" {
					from = "(first deployment)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s → %s\n", r.ID, r.FinishedAt.Local().Format("2006-01-02 15:04"), r.Decision, r.PlanKind, from, r.NewRef)
			}
			return tw.Flush()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dsn, "store", "", storeHelp)
	fl.StringVar(&image, "image", "", "only runs of this image or repository")
	fl.StringVar(&decision, "decision", "", "only runs with this verdict: GO, CAUTION, NO-GO or ERROR")
	fl.IntVar(&limit, "limit", 20, "at most this many runs (0: all)")
	fl.DurationVar(&since, "since", 0, "only runs of the last DURATION (e.g. 168h)")
	fl.StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
