#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>

/*
 * Typed wrappers around libcurl's C-variadic entry points (`curl_easy_setopt`,
 * `curl_easy_getinfo`), which Swift cannot call directly. One wrapper per argument type;
 * the caller picks the one matching the option's documented type.
 */

/* MARK: - Callback types */

/* CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION and CURLOPT_READFUNCTION share this shape. */
typedef size_t (*ccurl_data_callback)(char *buffer, size_t size, size_t nitems, void *userdata);
/* CURLOPT_XFERINFOFUNCTION: return non-zero to abort the transfer (CURLE_ABORTED_BY_CALLBACK). */
typedef int (*ccurl_xferinfo_callback)(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                                       curl_off_t ultotal, curl_off_t ulnow);

/* MARK: - curl_easy_setopt */

static inline CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/* For CURLOPTTYPE_STRINGPOINT options; libcurl copies the string (except CURLOPT_POSTFIELDS). */
static inline CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

/* For CURLOPTTYPE_OBJECTPOINT / CBPOINT options (userdata pointers, error buffers). */
static inline CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_data_callback(CURL *handle, CURLoption option, ccurl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_xferinfo_callback(CURL *handle, ccurl_xferinfo_callback value) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}

/* MARK: - curl_easy_getinfo */

static inline CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

/* MARK: - Macros Swift does not import */

static inline CURLcode ccurl_global_init_all(void) { return curl_global_init(CURL_GLOBAL_ALL); }

static inline size_t ccurl_writefunc_error(void) { return CURL_WRITEFUNC_ERROR; }

enum { CCURL_ERROR_SIZE = CURL_ERROR_SIZE };

#endif
