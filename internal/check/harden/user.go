package harden

import (
	"context"
	"fmt"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
)

// userCheck judges who the app runs as.
type userCheck struct {
	h     config.Harden
	app   config.App
	scans *scans
}

func (*userCheck) Name() string { return "user" }

func (c *userCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	n, err := c.identity(ctx, env.New)
	if err != nil {
		return check.Result{}, err
	}
	r := check.Result{
		Measured:  n.String(),
		Baseline:  "no OLD image",
		Threshold: fmt.Sprintf("uid %d (harden.uid); never root", c.h.UID),
		Source:    n.From + ", resolved with the image's /etc/passwd and /etc/group",
	}
	data := map[string]identity{"new": n}
	var old *identity
	if env.Old != nil {
		o, err := c.identity(ctx, env.Old)
		if err != nil {
			return check.Result{}, err
		}
		old, data["old"], r.Baseline = &o, o, o.String()
	}
	r.Data = data
	switch {
	case n.Problem != "":
		r.Status, r.Message = check.StatusFail, "NEW's "+n.Problem
	case n.UID == 0:
		r.Status, r.Message = check.StatusFail, fmt.Sprintf("NEW runs as root (user %q from the %s): run as uid %d instead", n.Spec, n.From, c.h.UID)
	case n.UID != c.h.UID:
		r.Status, r.Message = check.StatusWarn, fmt.Sprintf("NEW runs as uid %d, the policy expects uid %d (harden.uid)", n.UID, c.h.UID)
	default:
		r.Status, r.Message = check.StatusPass, "NEW runs as "+n.String()
	}
	if old != nil {
		r.Message += userChange(*old, n)
	}
	return r, nil
}

// userChange says how the user changed from OLD to NEW, "" when it did not.
func userChange(o, n identity) string {
	switch {
	case o.Problem == "" && n.Problem == "" && o.UID == n.UID && o.GID == n.GID:
		if o.UID == 0 && n.UID == 0 {
			return "; pre-existing: OLD runs as root too"
		}
		return ""
	case o.Problem != "" && o.Spec == n.Spec:
		return "; pre-existing: fails on OLD too"
	}
	return fmt.Sprintf("; changed from OLD's %s", o)
}

// identity resolves who img's app runs as: the policy's app.user, else the image's user.
func (c *userCheck) identity(ctx context.Context, img *image.Image) (identity, error) {
	spec, from := c.app.User, "policy's app.user"
	if spec == "" {
		from = "image config"
		if img.Config != nil {
			spec = img.Config.Config.User
		}
	}
	sc, err := c.scans.get(ctx, img)
	if err != nil {
		return identity{}, err
	}
	return resolveUser(spec, from, sc.passwd, sc.group), nil
}
