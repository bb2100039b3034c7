package harden

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// account is one line of /etc/passwd or /etc/group.
type account struct {
	Name string
	ID   int
	// GID is a passwd line's primary group, -1 for a group line.
	GID int
}

// parseAccounts reads /etc/passwd (name:pw:uid:gid:…) or /etc/group (name:pw:gid:members)
// lines, skipping blank, comment and malformed ones (as libc does). The first line of a name
// wins.
func parseAccounts(b []byte, passwd bool) map[string]account {
	out := map[string]account{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxAccountFile)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if (passwd && len(f) < 4) || len(f) < 3 || f[0] == "" {
			continue
		}
		id, ok := parseID(f[2])
		if !ok {
			continue
		}
		a := account{Name: f[0], ID: id, GID: -1}
		if passwd {
			if a.GID, ok = parseID(f[3]); !ok {
				continue
			}
		}
		if _, dup := out[a.Name]; !dup {
			out[a.Name] = a
		}
	}
	return out
}

// parseID reads a numeric user or group ID.
func parseID(s string) (int, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// identity is who a container runs as.
type identity struct {
	// Spec is the user as written ("", "nobody", "app:app", "65532").
	Spec string `json:"spec"`
	// From says where Spec came from: the image config, or the policy's app.user.
	From string `json:"from"`
	UID  int    `json:"uid"`
	// GID is the primary group, -1 when neither the spec nor /etc/passwd says.
	GID int `json:"gid"`
	// Name is the user's name in /etc/passwd, "" when it has none.
	Name string `json:"name,omitempty"`
	// Problem says why Spec cannot be resolved ("user app is not in /etc/passwd"), "" when it can.
	Problem string `json:"problem,omitempty"`
}

// String shows who runs: "uid 65532 (nonroot), gid 65532".
func (id identity) String() string {
	if id.Problem != "" {
		return fmt.Sprintf("user %q: %s", id.Spec, id.Problem)
	}
	s := "uid " + strconv.Itoa(id.UID)
	if id.Name != "" {
		s += " (" + id.Name + ")"
	}
	if id.GID >= 0 {
		s += ", gid " + strconv.Itoa(id.GID)
	}
	return s
}

// resolveUser resolves a Docker user spec ("user[:group]", names or numbers; "" is root) with
// the image's /etc/passwd and /etc/group, as the container runtime would.
func resolveUser(spec, from string, passwd, group []byte) identity {
	id := identity{Spec: spec, From: from, GID: -1}
	user, grp, hasGroup := strings.Cut(spec, ":")
	users := parseAccounts(passwd, true)
	if n, numeric := parseID(user); numeric || user == "" {
		id.UID = n // "" is root
		for _, a := range users {
			if a.ID == id.UID && (id.Name == "" || a.Name < id.Name) {
				id.Name, id.GID = a.Name, a.GID
			}
		}
	} else {
		a, ok := users[user]
		if !ok {
			id.Problem = fmt.Sprintf("user %q is not in the image's /etc/passwd, so the container cannot start", user)
			return id
		}
		id.UID, id.GID, id.Name = a.ID, a.GID, a.Name
	}
	if !hasGroup {
		return id
	}
	if n, numeric := parseID(grp); numeric {
		id.GID = n
		return id
	}
	g, ok := parseAccounts(group, false)[grp]
	if !ok {
		id.Problem = fmt.Sprintf("group %q is not in the image's /etc/group, so the container cannot start", grp)
		return id
	}
	id.GID = g.ID
	return id
}
