/* channel.c -- channel names and the thin dispatch over a backend's function table.
 * Knows nothing about any particular backend. */
#include <stdio.h>
#include <string.h>

#include "dmp/channel.h"

/* Appends one name token, mapping characters outside [A-Za-z0-9_-] to '_'. */
static int put_token(char *out, size_t *pos, const char *tok, size_t n, int dot)
{
    if (n == 0)
        return -1;
    if (*pos + n + (dot ? 1 : 0) > DMP_CHANNEL_NAME_MAX)
        return -1;
    if (dot)
        out[(*pos)++] = '.';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tok[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        out[(*pos)++] = ok ? (char)c : '_';
    }
    out[*pos] = '\0';
    return 0;
}

/* Appends the tokens of 's' split at any of 'seps'. */
static int put_split(char *out, size_t *pos, const char *s, const char *seps)
{
    while (*s) {
        size_t n = strcspn(s, seps);
        if (n > 0 && put_token(out, pos, s, n, *pos > 0) != 0)
            return -1;
        s += n;
        if (*s)
            s++;
    }
    return 0;
}

int dmp_channel_name(const char *product_id, const char *domain, const char *name,
                     const char *visibility, const char *port, char *out, dmp_error_t *err)
{
    size_t pos = 0;
    out[0] = '\0';
    if (visibility == NULL || (strcmp(visibility, "public") && strcmp(visibility, "protected") &&
                               strcmp(visibility, "private")))
        return DMP_ERR(err, DMP_INVALID,
                       "channel visibility '%s' is not one of public, protected, private",
                       visibility ? visibility : "");
    if (port == NULL || port[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "channel port name is empty");
    int from_urn = product_id != NULL && strncmp(product_id, "urn:", 4) == 0 &&
                   strncmp(product_id, "urn:dmp:", 8) != 0 && product_id[4] != '\0';
    int rc;
    if (from_urn) {
        rc = put_split(out, &pos, product_id + 4, ":");
    } else {
        if (domain == NULL || domain[0] == '\0' || name == NULL || name[0] == '\0')
            return DMP_ERR(err, DMP_INVALID, "channel needs a product domain and name");
        rc = put_split(out, &pos, domain, ".");
        if (rc == 0)
            rc = put_token(out, &pos, name, strlen(name), pos > 0);
    }
    char vis[16];
    snprintf(vis, sizeof(vis), "_%s", visibility);
    if (rc == 0 && pos == 0)
        rc = -1;
    if (rc == 0)
        rc = put_token(out, &pos, vis, strlen(vis), 1);
    if (rc == 0)
        rc = put_token(out, &pos, port, strlen(port), 1);
    if (rc != 0) {
        out[0] = '\0';
        return DMP_ERR(err, DMP_INVALID,
                       "channel name for port '%s' is empty or longer than %d bytes", port,
                       DMP_CHANNEL_NAME_MAX);
    }
    return DMP_OK;
}

int dmp_channel_open(dmp_channel_backend_t *be, const char *ns, const char *name,
                     const dmp_channel_conf_t *conf, dmp_channel_t **out, dmp_error_t *err)
{
    *out = NULL;
    return be->ops->open(be, ns, name, conf, out, err);
}

void dmp_channel_close(dmp_channel_t *ch)
{
    if (ch != NULL)
        ch->be->ops->close(ch);
}

int dmp_channel_destroy(dmp_channel_backend_t *be, const char *ns, const char *name,
                        dmp_error_t *err)
{
    return be->ops->destroy(be, ns, name, err);
}

int dmp_channel_append(dmp_channel_t *ch, const dmp_channel_msg_t *msgs, size_t n,
                       dmp_channel_result_t *results, dmp_error_t *err)
{
    if (n == 0)
        return DMP_OK;
    return ch->be->ops->append(ch, msgs, n, results, err);
}

int dmp_channel_read(dmp_channel_t *ch, uint64_t from, size_t max_records, size_t max_bytes,
                     dmp_channel_read_fn fn, void *ud, uint64_t *next, dmp_error_t *err)
{
    return ch->be->ops->read(ch, from, max_records, max_bytes, fn, ud, next, err);
}

int dmp_channel_seek_time(dmp_channel_t *ch, int64_t append_ms, uint64_t *offset,
                          dmp_error_t *err)
{
    return ch->be->ops->seek_time(ch, append_ms, offset, err);
}

int dmp_channel_wait(dmp_channel_t *ch, uint64_t after, int timeout_ms)
{
    return ch->be->ops->wait(ch, after, timeout_ms);
}

int dmp_channel_retain(dmp_channel_t *ch, dmp_error_t *err)
{
    return ch->be->ops->retain(ch, err);
}

void dmp_channel_stats(dmp_channel_t *ch, dmp_channel_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    ch->be->ops->stats(ch, out);
}

void dmp_channel_backend_free(dmp_channel_backend_t *be)
{
    if (be != NULL)
        be->ops->backend_free(be);
}
