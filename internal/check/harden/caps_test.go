package harden

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestParseCaps(t *testing.T) {
	v1caps := make([]byte, 12)
	binary.LittleEndian.PutUint32(v1caps, capRevision1)
	binary.LittleEndian.PutUint32(v1caps[4:], 1<<10)
	v3caps := make([]byte, 24)
	binary.LittleEndian.PutUint32(v3caps, capRevision3|capEffective)
	binary.LittleEndian.PutUint32(v3caps[4:], 1<<21)
	binary.LittleEndian.PutUint32(v3caps[12:], 1<<(40-32)|1<<(63-32))
	binary.LittleEndian.PutUint32(v3caps[8:], 1<<0)
	binary.LittleEndian.PutUint32(v3caps[20:], 100000)
	tests := []struct {
		name, raw, want, err string
	}{
		{name: "ping", raw: capsV2(true, 13), want: "cap_net_raw=ep"},
		{name: "two, not effective", raw: capsV2(false, 10, 13), want: "cap_net_bind_service,cap_net_raw=p"},
		{name: "version 1", raw: string(v1caps), want: "cap_net_bind_service=p"},
		{name: "version 3 with high bits and rootid", raw: string(v3caps),
			want: "cap_sys_admin,cap_checkpoint_restore,cap_63=ep cap_chown=i [rootid=100000]"},
		{name: "empty masks", raw: capsV2(false), want: "(empty)"},
		{name: "too short", raw: "\x00\x00", err: "too short"},
		{name: "bad revision", raw: "\x00\x00\x00\x07" + strings.Repeat("\x00", 16), err: "unknown capability attribute revision"},
		{name: "wrong length", raw: capsV2(true, 13)[:16], err: "is 16 bytes, not 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCaps([]byte(tt.raw))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if got := formatCaps([]byte(tt.raw)); !strings.HasPrefix(got, "unreadable: ") {
					t.Errorf("formatCaps = %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.String(); got != tt.want {
				t.Errorf("caps = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParseCaps(f *testing.F) {
	f.Add([]byte(capsV2(true, 13)))
	f.Add([]byte(capsV2(false, 0, 63)))
	f.Add([]byte{0, 0, 0, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCaps(b)
		if err != nil {
			return
		}
		if s := c.String(); s == "" {
			t.Fatalf("empty rendering of %x", b)
		}
	})
}
