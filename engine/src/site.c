/* The organisation around the engine ([site] settings): which client
 * addresses are its own network or the relays and hosted provider it sends
 * through, and which domains are its own. Mail from its own domains through
 * those hosts is internal mail, as SpamAssassin's internal_networks and
 * trusted_networks let an administrator say; detectors read it with
 * zhi_site_internal_mail. Lists are parsed where they are used (a handful of
 * entries: cheaper than keeping a second, parsed copy of the settings in
 * step with reloads); zhi_site_check validates them once, at start. */
#include "zhi.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One CIDR entry ("10.0.0.0/8", "2001:db8::/32", or a bare address) of
 * `len` bytes, parsed into a family, 16 address bytes and a prefix length. */
struct cidr {
    int family;
    uint8_t addr[16];
    unsigned bits;
};

static bool parse_cidr(const char *tok, size_t len, struct cidr *c)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, tok, len);
    buf[len] = 0;
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = 0;
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        c->bits = 32;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        c->bits = 128;
    } else {
        return false;
    }
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || b < 0 || (unsigned long)b > c->bits)
            return false;
        c->bits = (unsigned)b;
    }
    return true;
}

static bool cidr_has(const struct cidr *c, int family, const uint8_t *a)
{
    if (c->family != family)
        return false;
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, full))
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}

/* The next token of a list separated by spaces or commas; false at the end. */
static bool next_token(const char **p, const char **tok, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == ',' || *s == '\t')
        s++;
    if (!*s)
        return false;
    const char *e = s;
    while (*e && *e != ' ' && *e != ',' && *e != '\t')
        e++;
    *tok = s;
    *len = (size_t)(e - s);
    *p = e;
    return true;
}

bool zhi_site_ip_in(const char *list, const char *ip)
{
    uint8_t a[16];
    int family;
    if (!list || !ip || !*ip)
        return false;
    if (inet_pton(AF_INET, ip, a) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, ip, a) == 1)
        family = AF_INET6;
    else
        return false;
    const char *tok;
    size_t len;
    struct cidr c;
    while (next_token(&list, &tok, &len))
        if (parse_cidr(tok, len, &c) && cidr_has(&c, family, a))
            return true;
    return false;
}

const char *zhi_org_domain(const char *d)
{
    if (!d)
        return "";
    const char *at = strrchr(d, '@');
    if (at)
        d = at + 1;
    const char *end = d + strlen(d);
    int dots = 0;
    const char *p = end, *cut = d;
    while (p > d) {
        p--;
        if (*p == '.') {
            dots++;
            const char *label = p + 1;
            if (dots == 2) {
                size_t sld = (size_t)(strchr(label, '.') - label);
                if (sld > 3) {
                    cut = label;
                    break;
                }
            } else if (dots == 3) {
                cut = label;
                break;
            }
        }
    }
    return cut;
}

/* domain is d or a subdomain of it. */
static bool under(const char *domain, const char *d, size_t dlen)
{
    size_t n = strlen(domain);
    if (n < dlen || strncasecmp(domain + n - dlen, d, dlen))
        return false;
    return n == dlen || domain[n - dlen - 1] == '.';
}

bool zhi_site_internal_domain(const struct zhi_scan *s, const char *domain)
{
    if (!domain || !*domain)
        return false;
    const char *at = strrchr(domain, '@');
    if (at)
        domain = at + 1;
    const char *list = s->cfg->site_internal_domains, *tok;
    size_t len;
    if (list && *list) {
        while (next_token(&list, &tok, &len))
            if (under(domain, tok, len))
                return true;
        return false;
    }
    /* Not configured: the organisation is whoever the mail is for. */
    for (size_t i = 0; i < s->env->n_rcpt; i++) {
        const char *r = s->env->rcpt_to[i] ? strrchr(s->env->rcpt_to[i], '@') : NULL;
        if (r && r[1] && !strcasecmp(zhi_org_domain(r + 1), zhi_org_domain(domain)))
            return true;
    }
    return false;
}

bool zhi_site_trusted_client(const struct zhi_scan *s)
{
    const char *ip = s->env->client_ip;
    return zhi_site_ip_in(s->cfg->site_internal_networks, ip) ||
           zhi_site_ip_in(s->cfg->site_trusted_networks, ip);
}

static bool internal_mail(const struct zhi_scan *s);

/* Asked by several detectors and for every object's YARA externals, after
 * the message was parsed: worked out once per scan. */
bool zhi_site_internal_mail(const struct zhi_scan *s)
{
    struct zhi_scan *w = (struct zhi_scan *)s;
    if (!w->internal_memo)
        w->internal_memo = (signed char)(internal_mail(s) + 1);
    return w->internal_memo == 2;
}

static bool internal_mail(const struct zhi_scan *s)
{
    if (!s->is_message || !s->env->client_ip || !*s->env->client_ip || !zhi_site_trusted_client(s))
        return false;
    const char *from = s->from && *s->from ? s->from : NULL;
    const char *mail_from = s->env->mail_from && *s->env->mail_from ? s->env->mail_from : NULL;
    if (!from && !mail_from)
        return false;
    return (!from || zhi_site_internal_domain(s, from)) &&
           (!mail_from || zhi_site_internal_domain(s, mail_from));
}

/* A domain name as [site] internal_domains takes it: labels of letters,
 * digits and hyphens. */
static bool domain_ok(const char *tok, size_t len)
{
    if (!len || tok[0] == '.' || tok[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)tok[i]) && tok[i] != '-' && tok[i] != '.')
            return false;
    return true;
}

zh_err zhi_site_check(const struct zh_config *cfg, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t offset;
        bool networks;
    } lists[] = {
        {"site.internal_networks", offsetof(struct zh_config, site_internal_networks), true},
        {"site.trusted_networks", offsetof(struct zh_config, site_trusted_networks), true},
        {"site.internal_domains", offsetof(struct zh_config, site_internal_domains), false},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const char *list = *(char *const *)((const char *)cfg + lists[i].offset), *tok;
        size_t len;
        struct cidr c;
        while (list && next_token(&list, &tok, &len)) {
            if (lists[i].networks ? parse_cidr(tok, len, &c) : domain_ok(tok, len))
                continue;
            snprintf(err, errlen, "%s: \"%.*s\" is not %s", lists[i].name, (int)len, tok,
                     lists[i].networks ? "an address or ADDRESS/PREFIX" : "a domain name");
            return ZH_ERR_INVALID;
        }
    }
    return ZH_ERR_OK;
}
