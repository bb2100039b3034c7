package launch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/plimsoll/plimsoll/internal/image"
)

// tmpfs returns the runtime's tmpfs mounts for paths, owned by the container's user. The
// engine gives a tmpfs mounted over a directory of the image that directory's mode but root as
// its owner, so an app running as its own user could not write where the policy says it may;
// mounting it with the user's uid and gid makes it what a Kubernetes emptyDir is to the app.
// A user named rather than numbered is looked up in the image's /etc/passwd and /etc/group;
// one that is not found gets no owner here (the runtime then fails to start it, saying why).
func tmpfs(ctx context.Context, img *image.Image, user string, paths []string) (map[string]string, error) {
	opts := ""
	if uid, gid, ok := numericIDs(user); ok {
		opts = ownerOptions(uid, gid)
	} else {
		files, err := img.ReadFiles(ctx, "/etc/passwd", "/etc/group")
		if err != nil {
			return nil, fmt.Errorf("look up user %q in the image: %w", user, err)
		}
		if uid, gid, ok := lookupIDs(user, files["/etc/passwd"], files["/etc/group"]); ok {
			opts = ownerOptions(uid, gid)
		}
	}
	m := make(map[string]string, len(paths))
	for _, p := range paths {
		m[p] = opts
	}
	return m, nil
}

func ownerOptions(uid, gid int) string {
	if uid == 0 && gid == 0 {
		return ""
	}
	return fmt.Sprintf("uid=%d,gid=%d", uid, gid)
}

// numericIDs reads "", "uid" or "uid:gid" (a missing gid is 0, as the engine has it without a
// passwd entry); ok is false when a part is a name.
func numericIDs(user string) (uid, gid int, ok bool) {
	if user == "" {
		return 0, 0, true
	}
	u, g, hasGroup := strings.Cut(user, ":")
	uid, err := strconv.Atoi(u)
	if err != nil || uid < 0 {
		return 0, 0, false
	}
	if !hasGroup {
		return uid, 0, true
	}
	gid, err = strconv.Atoi(g)
	if err != nil || gid < 0 {
		return 0, 0, false
	}
	return uid, gid, true
}

// lookupIDs resolves "user[:group]", either part a name or a number, against passwd and
// group files; a user without a group gets its passwd entry's primary group.
func lookupIDs(user string, passwd, group []byte) (uid, gid int, ok bool) {
	u, g, hasGroup := strings.Cut(user, ":")
	uid, gid = -1, 0
	if n, err := strconv.Atoi(u); err == nil && n >= 0 {
		uid = n
	}
	for f := range fields(passwd) {
		if len(f) < 4 || (f[0] != u && f[2] != u) {
			continue
		}
		pu, err1 := strconv.Atoi(f[2])
		pg, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil && pu >= 0 && pg >= 0 {
			uid, gid = pu, pg
			break
		}
	}
	if uid < 0 {
		return 0, 0, false
	}
	if !hasGroup {
		return uid, gid, true
	}
	if n, err := strconv.Atoi(g); err == nil && n >= 0 {
		return uid, n, true
	}
	for f := range fields(group) {
		if len(f) >= 3 && f[0] == g {
			if n, err := strconv.Atoi(f[2]); err == nil && n >= 0 {
				return uid, n, true
			}
		}
	}
	return 0, 0, false
}

// fields yields the colon-separated fields of each line of a passwd-style file.
func fields(b []byte) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !yield(strings.Split(line, ":")) {
				return
			}
		}
	}
}
