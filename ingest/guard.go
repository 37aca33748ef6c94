package ingest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// blockedPrefixes are the address ranges the SSRF guard refuses by
// default: loopback, RFC 1918 and unique-local private ranges, link-local
// (which holds the 169.254.169.254 metadata service), CGNAT, the
// unspecified and "this network" ranges, multicast, benchmarking and
// reserved ranges, the AWS IPv6 metadata address (inside fd00::/8), and
// IPv4-mapped/NAT64 forms, which are unmapped before checking.
var blockedPrefixes = mustPrefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32",
	"fd00:ec2::254/128", "100::/64",
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// guard decides which resolved addresses the client may connect to.
type guard struct {
	allowAll   bool
	allowHosts map[string]bool // lower-case host names or IP literals as written in URLs
	allowNets  []netip.Prefix
}

func newGuard(allowPrivate bool, allow []string) (*guard, error) {
	g := &guard{allowAll: allowPrivate, allowHosts: map[string]bool{}}
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			continue
		}
		if strings.Contains(a, "/") {
			p, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, fmt.Errorf("parsing allow-list entry %q: %w", a, err)
			}
			g.allowNets = append(g.allowNets, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
			g.allowNets = append(g.allowNets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		g.allowHosts[strings.TrimSuffix(a, ".")] = true
	}
	return g, nil
}

// blocked reports whether ip is in a refused range and not allow-listed.
func (g *guard) blocked(ip netip.Addr) bool {
	if g.allowAll {
		return false
	}
	ip = ip.Unmap()
	for _, p := range g.allowNets {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address.
		if b := ip.As16(); netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
			if g.blocked(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})) {
				return true
			}
		} else if netip.MustParsePrefix("2002::/16").Contains(ip) {
			if g.blocked(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})) {
				return true
			}
		}
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// control is a net.Dialer.Control: it runs after DNS resolution and before
// connect, on every connection including redirects, so a host name that
// resolves (or re-resolves) to a refused address is caught.
func (g *guard) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s is not an IP address", ErrBlockedAddress, address)
	}
	if g.blocked(ip) {
		return fmt.Errorf("%w: %s is a private, loopback, link-local or reserved address", ErrBlockedAddress, ip)
	}
	return nil
}

// dialContext dials with the guard, skipping it for allow-listed host
// names (the name, as written in the URL, is what the transport dials).
func (g *guard) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	guarded := *d
	guarded.Control = g.control
	open := *d
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err == nil && g.allowHosts[strings.TrimSuffix(strings.ToLower(host), ".")] {
			return open.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
}
