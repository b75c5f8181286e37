/*
 * brook_native: the one thing Node cannot do for the Fetch path, sending a file range to a socket
 * without copying it through user space (sendfile(2)), done without blocking the event loop.
 *
 *   sendFile(socketFd, fileFd, position, length, callback(code, bytesSent)) -> handle
 *   cancel(handle)
 *
 * Both descriptors are dup()ed first, so the transfer holds its own references: Node may close the
 * socket, and the log may close the segment, while it runs. Each sendfile() runs on libuv's thread
 * pool (a read of a page not in the page cache waits for the disk there, not on the event loop).
 * The socket is non-blocking: when it is full the transfer waits for it to be writable with a
 * uv_poll on the duplicate, on the event loop, and then goes back to the pool. It ends when the
 * length is sent (code 0), when the file ends before it (code -1: the file was truncated), on a
 * socket or file error (code = errno), or when cancelled (code = ECANCELED). The callback is
 * called exactly once, after both duplicates are closed.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define CODE_SHORT_FILE (-1)
/* The most one sendfile() call may move (Linux caps a call at about 2 GiB anyway). */
#define MAX_CALL (1L << 30)

typedef struct {
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  uv_work_t work;
  uv_poll_t poll;
  int sock;
  int file;
  int64_t position;
  int64_t remaining;
  int64_t sent;
  int code;          /* 0 while running, else the result */
  int would_block;   /* the last pool step stopped on a full socket */
  volatile int cancelled; /* read by the pool step */
  int working;       /* a pool step is queued or running */
  int polling;       /* waiting for the socket to be writable */
  int poll_open;     /* uv_poll_init succeeded: the handle must be closed */
  int finished;      /* the callback has been called */
  int handle_gone;   /* the JS handle was collected */
  int poll_error;    /* uv_poll reported an error condition (libuv says UV_EBADF for POLLERR) */
} transfer_t;

static void free_if_done(transfer_t* t) {
  if (t->finished && t->handle_gone) free(t);
}

static void call_back(transfer_t* t) {
  napi_env env = t->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, argv[2], result;
  napi_get_reference_value(env, t->callback, &cb);
  napi_get_global(env, &recv); /* napi_make_callback wants an object as `this` */
  napi_create_int32(env, t->code, &argv[0]);
  napi_create_double(env, (double)t->sent, &argv[1]);
  napi_status status = napi_make_callback(env, t->async_context, recv, cb, 2, argv, &result);
  if (status == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  } else if (status != napi_ok) {
    napi_fatal_error("brook_native", NAPI_AUTO_LENGTH, "could not call the sendFile callback", NAPI_AUTO_LENGTH);
  }
  napi_delete_reference(env, t->callback);
  napi_async_destroy(env, t->async_context);
  napi_close_handle_scope(env, scope);
  t->finished = 1;
  free_if_done(t);
}

static void on_poll_closed(uv_handle_t* handle) {
  transfer_t* t = (transfer_t*)handle->data;
  close(t->sock);
  close(t->file);
  call_back(t);
}

static void finish(transfer_t* t) {
  if (t->poll_open) {
    uv_close((uv_handle_t*)&t->poll, on_poll_closed);
  } else {
    close(t->sock);
    close(t->file);
    call_back(t);
  }
}

/* On the pool: send until done, the socket is full, or an error. */
static void step(uv_work_t* req) {
  transfer_t* t = (transfer_t*)req->data;
  t->would_block = 0;
  while (t->remaining > 0 && !t->cancelled) {
    off_t pos = (off_t)t->position;
    size_t n = t->remaining > MAX_CALL ? (size_t)MAX_CALL : (size_t)t->remaining;
    ssize_t k = sendfile(t->sock, t->file, &pos, n);
    if (k > 0) {
      t->position += k;
      t->remaining -= k;
      t->sent += k;
      t->poll_error = 0; /* the socket took bytes: whatever uv_poll reported did not stop it */
    } else if (k == 0) {
      t->code = CODE_SHORT_FILE;
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      t->would_block = 1;
      return;
    } else {
      t->code = errno;
      return;
    }
  }
}

static void on_writable(uv_poll_t* handle, int status, int events);

static void after_step(uv_work_t* req, int status) {
  transfer_t* t = (transfer_t*)req->data;
  t->working = 0;
  if (t->code == 0 && (t->cancelled || status == UV_ECANCELED)) t->code = ECANCELED;
  if (t->code != 0 || t->remaining == 0) {
    finish(t);
    return;
  }
  if (t->poll_error != 0) {
    /* the socket reported an error yet sendfile found nothing to say: report the poll's */
    t->code = t->poll_error;
    finish(t);
    return;
  }
  /* the socket is full: wait on the event loop until it takes more */
  int r = uv_poll_start(&t->poll, UV_WRITABLE, on_writable);
  if (r != 0) {
    t->code = -r;
    finish(t);
    return;
  }
  t->polling = 1;
}

static void queue_step(transfer_t* t) {
  int r = uv_queue_work(t->poll.loop, &t->work, step, after_step);
  if (r != 0) {
    t->code = -r;
    finish(t);
    return;
  }
  t->working = 1;
}

static void on_writable(uv_poll_t* handle, int status, int events) {
  transfer_t* t = (transfer_t*)handle->data;
  (void)events;
  uv_poll_stop(&t->poll);
  t->polling = 0;
  /* An error condition (a reset peer) is reported as UV_EBADF; the next sendfile() says what it
   * is (EPIPE, ECONNRESET), so it runs once more either way. */
  if (status < 0) t->poll_error = -status;
  queue_step(t);
}

static void handle_finalize(napi_env env, void* data, void* hint) {
  (void)env; (void)hint;
  transfer_t* t = (transfer_t*)data;
  t->handle_gone = 1;
  free_if_done(t);
}

static napi_value throw_error(napi_env env, const char* message) {
  napi_throw_error(env, "BROOK_ERR_NATIVE", message);
  return NULL;
}

static napi_value send_file(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return throw_error(env, "sendFile(socketFd, fileFd, position, length, callback)");
  int32_t sock, file;
  int64_t position, length;
  napi_valuetype cb_type;
  if (napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0) return throw_error(env, "sendFile: socketFd must be a descriptor");
  if (napi_get_value_int32(env, argv[1], &file) != napi_ok || file < 0) return throw_error(env, "sendFile: fileFd must be a descriptor");
  if (napi_get_value_int64(env, argv[2], &position) != napi_ok || position < 0) return throw_error(env, "sendFile: position must be >= 0");
  if (napi_get_value_int64(env, argv[3], &length) != napi_ok || length < 0) return throw_error(env, "sendFile: length must be >= 0");
  napi_typeof(env, argv[4], &cb_type);
  if (cb_type != napi_function) return throw_error(env, "sendFile: callback must be a function");

  transfer_t* t = calloc(1, sizeof(transfer_t));
  if (!t) return throw_error(env, "sendFile: out of memory");
  t->env = env;
  t->position = position;
  t->remaining = length;
  t->work.data = t;
  t->poll.data = t;
  t->sock = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  t->file = t->sock < 0 ? -1 : fcntl(file, F_DUPFD_CLOEXEC, 0);
  if (t->sock < 0 || t->file < 0) {
    int err = errno;
    if (t->sock >= 0) close(t->sock);
    free(t);
    napi_value e, code_value, msg;
    napi_create_string_utf8(env, "sendFile: dup failed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &e);
    napi_create_int32(env, err, &code_value);
    napi_set_named_property(env, e, "errno", code_value);
    napi_throw(env, e);
    return NULL;
  }
  napi_value resource_name, handle;
  napi_create_string_utf8(env, "BrookSendFile", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &t->async_context);
  napi_create_reference(env, argv[4], 1, &t->callback);
  napi_create_external(env, t, handle_finalize, NULL, &handle);

  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  int r = uv_poll_init(loop, &t->poll, t->sock);
  if (r != 0) {
    /* nothing started: no callback; the handle's finalizer frees the transfer */
    close(t->sock);
    close(t->file);
    napi_delete_reference(env, t->callback);
    napi_async_destroy(env, t->async_context);
    t->finished = 1;
    napi_throw_error(env, "BROOK_ERR_NATIVE", uv_strerror(r));
    return NULL;
  }
  t->poll_open = 1;
  if (length == 0) {
    finish(t);
    return handle;
  }
  queue_step(t);
  return handle;
}

static napi_value cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void* data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) return throw_error(env, "cancel(handle)");
  transfer_t* t = (transfer_t*)data;
  if (t->finished || t->code != 0 || t->cancelled) return NULL;
  t->cancelled = 1;
  if (t->polling) {
    uv_poll_stop(&t->poll);
    t->polling = 0;
    t->code = ECANCELED;
    finish(t);
  }
  /* a pool step in flight sees the flag and stops; after_step finishes */
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "sendFile", NULL, send_file, NULL, NULL, NULL, napi_default, NULL },
    { "cancel", NULL, cancel, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
