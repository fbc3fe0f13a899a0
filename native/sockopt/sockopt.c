// setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, n) for Node, which offers no way to set it on a TCP socket.
// The iSCSI target raises a connection's receive low-water mark while solicited Data-Out it asked for is
// on its way, so the kernel wakes it once per burst instead of once per segment (src/iscsi/receive-low-water.ts).
#include <errno.h>
#include <node_api.h>
#include <sys/socket.h>

// setReceiveLowWater(fd, bytes) -> 0, or the errno of a failed setsockopt.
static napi_value set_receive_low_water(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1, bytes = 1;
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &bytes) != napi_ok || fd < 0 || bytes < 1) {
    napi_create_int32(env, EINVAL, &out);
    return out;
  }
  int r = setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
  napi_create_int32(env, r == 0 ? 0 : errno, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "setReceiveLowWater", NAPI_AUTO_LENGTH, set_receive_low_water, NULL, &fn);
  napi_set_named_property(env, exports, "setReceiveLowWater", fn);
  return exports;
}
