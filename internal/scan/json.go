package scan

import (
	"bytes"
	"encoding/json"
)

// MarshalJSON writes d with every list as a list, [] when empty, as summary.json promises.
func (d PackageDiff) MarshalJSON() ([]byte, error) {
	type plain PackageDiff // without this method
	p := plain(d)
	for _, s := range []*[]PackageChange{&p.Added, &p.Removed, &p.Upgraded, &p.Downgraded, &p.Renamed} {
		if *s == nil {
			*s = []PackageChange{}
		}
	}
	return marshal(p)
}

// MarshalJSON writes d with every list as a list, [] when empty, as summary.json promises.
func (d VulnDelta) MarshalJSON() ([]byte, error) {
	type plain VulnDelta // without this method
	p := plain(d)
	for _, s := range []*[]Finding{&p.Introduced, &p.Fixed, &p.Persisting} {
		if *s == nil {
			*s = []Finding{}
		}
	}
	return marshal(p)
}

// marshal is json.Marshal without HTML escaping, as the report encoders write.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
