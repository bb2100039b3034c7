// Package fileprobe is a small, real test suite for Layer 3's end-to-end tests: compiled with
// `go test -c -tags fileprobe` and put into an Alpine image, it checks files and libraries an
// application on that image relies on (the musl loader, OpenSSL's libraries, the CA bundle, the
// DHCP server's default configuration), and, when APP_URL is set, that the app answers. Its
// tests only build with the fileprobe tag: they describe an image, not this machine.
package fileprobe
