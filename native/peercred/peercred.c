/*
 * peercred: the kernel's view of who is on the other end of a unix socket (SO_PEERCRED), for aiboxd's per-caller
 * authorisation. One function, peercred(fd) -> { uid, gid, pid }; throws on any failure (the caller fails closed).
 * Plain C against Node-API (ABI-stable across Node versions), so it builds with the C compiler the host already has.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "PEERCRED_FAILED", message);
  return NULL;
}

static napi_value set_int(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) != napi_ok) return NULL;
  if (napi_set_named_property(env, obj, key, v) != napi_ok) return NULL;
  return obj;
}

static napi_value peercred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return fail(env, "peercred(fd): missing fd");
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0)
    return fail(env, "peercred(fd): fd must be a non-negative integer");

  struct ucred cred;
  socklen_t len = sizeof cred;
  memset(&cred, 0, sizeof cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return fail(env, strerror(errno));
  if (len != sizeof cred) return fail(env, "SO_PEERCRED returned a short answer");

  napi_value out;
  if (napi_create_object(env, &out) != napi_ok) return fail(env, "cannot create the result");
  if (!set_int(env, out, "uid", cred.uid) || !set_int(env, out, "gid", cred.gid) ||
      !set_int(env, out, "pid", cred.pid))
    return fail(env, "cannot fill the result");
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "peercred", NAPI_AUTO_LENGTH, peercred, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "peercred", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
