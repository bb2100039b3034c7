package harden

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// capNames are the Linux capabilities by number (linux/capability.h).
var capNames = [...]string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid", "cap_kill",
	"cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
	"cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
	"cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct",
	"cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource", "cap_sys_time",
	"cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write", "cap_audit_control",
	"cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm",
	"cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
}

// fileCaps is a decoded security.capability extended attribute (struct vfs_cap_data).
type fileCaps struct {
	Permitted, Inheritable uint64
	Effective              bool
	// RootID is the user namespace root of a version 3 attribute, -1 for older versions.
	RootID int64
}

// The layout of vfs_cap_data.
const (
	capRevisionMask = 0xFF000000
	capRevision1    = 0x01000000
	capRevision2    = 0x02000000
	capRevision3    = 0x03000000
	capEffective    = 0x000001
)

// parseCaps decodes a security.capability attribute: a little-endian magic word, then one
// (version 1) or two (versions 2 and 3) permitted/inheritable pairs of 32-bit masks, then, for
// version 3, the root user ID.
func parseCaps(b []byte) (fileCaps, error) {
	if len(b) < 4 {
		return fileCaps{}, errors.New("capability attribute too short")
	}
	magic := binary.LittleEndian.Uint32(b)
	want, words := 0, 0
	switch magic & capRevisionMask {
	case capRevision1:
		want, words = 12, 1
	case capRevision2:
		want, words = 20, 2
	case capRevision3:
		want, words = 24, 2
	default:
		return fileCaps{}, fmt.Errorf("unknown capability attribute revision %#x", magic&capRevisionMask)
	}
	if len(b) != want {
		return fileCaps{}, fmt.Errorf("capability attribute of revision %d is %d bytes, not %d", magic>>24, len(b), want)
	}
	c := fileCaps{Effective: magic&capEffective != 0, RootID: -1}
	for i := range words {
		c.Permitted |= uint64(binary.LittleEndian.Uint32(b[4+8*i:])) << (32 * i)
		c.Inheritable |= uint64(binary.LittleEndian.Uint32(b[8+8*i:])) << (32 * i)
	}
	if magic&capRevisionMask == capRevision3 {
		c.RootID = int64(binary.LittleEndian.Uint32(b[20:]))
	}
	return c, nil
}

// String shows the capabilities as getcap does: "cap_net_bind_service,cap_net_raw=ep".
func (c fileCaps) String() string {
	var parts []string
	if c.Permitted != 0 {
		flags := "p"
		if c.Effective {
			flags = "ep"
		}
		parts = append(parts, capList(c.Permitted)+"="+flags)
	}
	if c.Inheritable != 0 {
		parts = append(parts, capList(c.Inheritable)+"=i")
	}
	if len(parts) == 0 {
		parts = append(parts, "(empty)")
	}
	if c.RootID >= 0 {
		parts = append(parts, fmt.Sprintf("[rootid=%d]", c.RootID))
	}
	return strings.Join(parts, " ")
}

func capList(mask uint64) string {
	var names []string
	for i := range 64 {
		if mask&(1<<i) == 0 {
			continue
		}
		if i < len(capNames) {
			names = append(names, capNames[i])
		} else {
			names = append(names, fmt.Sprintf("cap_%d", i))
		}
	}
	return strings.Join(names, ",")
}

// formatCaps shows a raw attribute, or says it cannot be read.
func formatCaps(raw []byte) string {
	c, err := parseCaps(raw)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return c.String()
}
