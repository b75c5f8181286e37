/*
 * brook_native: the one thing Node cannot do for the Fetch path, sending file ranges to a socket
 * without copying them through user space (sendfile(2)), done without blocking the event loop.
 *
 *   send(socketFd, parts, callback(code, bytesSent)) -> handle
 *   cancel(handle)
 *   setSendBuffer(socketFd, bytes) -> the send buffer's size now (SO_SNDBUF, which Node's net
 *     cannot set: Kafka's socket.send.buffer.bytes; Linux doubles the value for its bookkeeping
 *     and stops autotuning that socket's buffer)
 *
 * `parts` is one or more whole responses in order: Buffers (sent with sendmsg) and file ranges
 * ({ fd, position, length }: sent with sendfile), so a Fetch response with many partitions is one
 * transfer, one hand-off to the pool and back. A Buffer followed by more parts is sent with
 * MSG_MORE, so a partition's header leaves in the same segment as its records.
 *
 * The socket is dup()ed first, so the transfer holds its own reference: Node may close the socket
 * while it runs. The file descriptors are not: the caller keeps each open until the callback (a
 * FileRegion keeps its segment until the response is released). The parts array is referenced
 * until the callback, which keeps its Buffers alive. Each step runs on libuv's thread pool (a read
 * of a page not in the page cache waits for the disk there, not on the event loop). The socket is
 * non-blocking: when it is full the transfer waits for it to be writable with a uv_poll on the
 * duplicate, on the event loop, and then goes back to the pool. It ends when every part is sent
 * (code 0), when a file ends before its range does (code -1: the file was truncated), on a socket
 * or file error (code = errno), or when cancelled (code = ECANCELED). The callback is called
 * exactly once, after the duplicate is closed.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CODE_SHORT_FILE (-1)
/* The most one sendfile() call may move (Linux caps a call at about 2 GiB anyway). */
#define MAX_CALL (1L << 30)
/* Buffers gathered into one sendmsg(). */
#define MAX_IOV 64

typedef struct {
  int fd;          /* -1: bytes at `data` */
  const char* data;
  int64_t position;
  int64_t length;
} part_t;

typedef struct {
  napi_env env;
  napi_ref callback;
  napi_ref parts_ref; /* keeps the Buffers alive */
  napi_async_context async_context;
  uv_work_t work;
  uv_poll_t poll;
  uv_loop_t* loop;
  int sock;
  part_t* parts;
  size_t count;
  size_t index;      /* the part being sent */
  int64_t offset;    /* bytes of it sent */
  int64_t sent;
  int code;          /* 0 while running, else the result */
  volatile int cancelled; /* read by the pool step */
  int polling;       /* waiting for the socket to be writable */
  int poll_open;     /* uv_poll_init succeeded: the handle must be closed */
  int finished;      /* the callback has been called */
  int handle_gone;   /* the JS handle was collected */
  int poll_error;    /* uv_poll reported an error condition (libuv says UV_EBADF for POLLERR) */
} transfer_t;

static void free_if_done(transfer_t* t) {
  if (t->finished && t->handle_gone) {
    free(t->parts);
    free(t);
  }
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
  napi_delete_reference(env, t->parts_ref);
  napi_status status = napi_make_callback(env, t->async_context, recv, cb, 2, argv, &result);
  if (status == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  } else if (status != napi_ok) {
    napi_fatal_error("brook_native", NAPI_AUTO_LENGTH, "could not call the send callback", NAPI_AUTO_LENGTH);
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
  call_back(t);
}

static void finish(transfer_t* t) {
  if (t->poll_open) {
    uv_close((uv_handle_t*)&t->poll, on_poll_closed);
  } else {
    close(t->sock);
    call_back(t);
  }
}

static void advance(transfer_t* t, int64_t k) {
  t->sent += k;
  t->poll_error = 0; /* the socket took bytes: whatever uv_poll reported did not stop it */
  while (k > 0) {
    int64_t left = t->parts[t->index].length - t->offset;
    if (k < left) {
      t->offset += k;
      return;
    }
    k -= left;
    t->index++;
    t->offset = 0;
  }
  while (t->index < t->count && t->parts[t->index].length == 0) t->index++;
}

/* Sends the run of Buffers starting at the current part; returns what sendmsg returned. */
static ssize_t send_bytes(transfer_t* t) {
  struct iovec iov[MAX_IOV];
  int n = 0;
  size_t i = t->index;
  int64_t skip = t->offset;
  for (; i < t->count && t->parts[i].fd < 0 && n < MAX_IOV; i++) {
    if (t->parts[i].length - skip == 0) { skip = 0; continue; }
    iov[n].iov_base = (void*)(t->parts[i].data + skip);
    iov[n].iov_len = (size_t)(t->parts[i].length - skip);
    skip = 0;
    n++;
  }
  struct msghdr msg = { 0 };
  msg.msg_iov = iov;
  msg.msg_iovlen = (size_t)n;
  /* more parts after these: let TCP hold a partial segment for them */
  return sendmsg(t->sock, &msg, MSG_NOSIGNAL | (i < t->count ? MSG_MORE : 0));
}

/* On the pool: send until done, the socket is full, or an error. */
static void step(uv_work_t* req) {
  transfer_t* t = (transfer_t*)req->data;
  while (t->index < t->count && !t->cancelled) {
    part_t* p = &t->parts[t->index];
    ssize_t k;
    if (p->fd < 0) {
      k = send_bytes(t);
    } else {
      off_t pos = (off_t)(p->position + t->offset);
      int64_t left = p->length - t->offset;
      k = sendfile(t->sock, p->fd, &pos, left > MAX_CALL ? (size_t)MAX_CALL : (size_t)left);
      if (k == 0) {
        t->code = CODE_SHORT_FILE;
        return;
      }
    }
    if (k > 0) {
      advance(t, k);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
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
  if (t->code == 0 && (t->cancelled || status == UV_ECANCELED)) t->code = ECANCELED;
  if (t->code != 0 || t->index == t->count) {
    finish(t);
    return;
  }
  if (t->poll_error != 0) {
    /* the socket reported an error yet the send found nothing to say: report the poll's */
    t->code = t->poll_error;
    finish(t);
    return;
  }
  /* the socket is full: wait on the event loop until it takes more */
  if (!t->poll_open) {
    int r = uv_poll_init(t->loop, &t->poll, t->sock);
    if (r != 0) {
      t->code = -r;
      finish(t);
      return;
    }
    t->poll_open = 1;
  }
  int r = uv_poll_start(&t->poll, UV_WRITABLE, on_writable);
  if (r != 0) {
    t->code = -r;
    finish(t);
    return;
  }
  t->polling = 1;
}

static void queue_step(transfer_t* t) {
  int r = uv_queue_work(t->loop, &t->work, step, after_step);
  if (r != 0) {
    t->code = -r;
    finish(t);
    return;
  }
}

static void on_writable(uv_poll_t* handle, int status, int events) {
  transfer_t* t = (transfer_t*)handle->data;
  (void)events;
  uv_poll_stop(&t->poll);
  t->polling = 0;
  /* An error condition (a reset peer) is reported as UV_EBADF; the next send says what it is
   * (EPIPE, ECONNRESET), so it runs once more either way. */
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

/* An Error with `errno` set. */
static napi_value throw_errno(napi_env env, const char* message, int err) {
  napi_value e, code_value, msg;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &e);
  napi_create_int32(env, err, &code_value);
  napi_set_named_property(env, e, "errno", code_value);
  napi_throw(env, e);
  return NULL;
}

static int get_int64(napi_env env, napi_value obj, const char* name, int64_t* out) {
  napi_value v;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0;
  return napi_get_value_int64(env, v, out) == napi_ok;
}

/* Reads parts[] into `t`; returns an error message, or NULL. */
static const char* read_parts(napi_env env, napi_value array, transfer_t* t) {
  uint32_t n;
  if (napi_get_array_length(env, array, &n) != napi_ok) return "send: parts must be an array";
  t->parts = calloc(n == 0 ? 1 : n, sizeof(part_t));
  if (!t->parts) return "send: out of memory";
  t->count = n;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    bool is_buffer = false;
    napi_get_element(env, array, i, &el);
    napi_is_buffer(env, el, &is_buffer);
    part_t* p = &t->parts[i];
    if (is_buffer) {
      void* data;
      size_t len;
      napi_get_buffer_info(env, el, &data, &len);
      p->fd = -1;
      p->data = (const char*)data;
      p->length = (int64_t)len;
      continue;
    }
    napi_valuetype type;
    napi_typeof(env, el, &type);
    int64_t fd, position, length;
    if (type != napi_object || !get_int64(env, el, "fd", &fd) || !get_int64(env, el, "position", &position) || !get_int64(env, el, "length", &length)) {
      return "send: each part must be a Buffer or { fd, position, length }";
    }
    if (fd < 0 || fd > INT32_MAX) return "send: a part's fd must be a descriptor";
    if (position < 0) return "send: a part's position must be >= 0";
    if (length < 0) return "send: a part's length must be >= 0";
    p->fd = (int)fd;
    p->position = position;
    p->length = length;
  }
  while (t->index < t->count && t->parts[t->index].length == 0) t->index++;
  return NULL;
}

static napi_value send_parts(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "send(socketFd, parts, callback)");
  int32_t sock;
  bool is_array = false;
  napi_valuetype cb_type;
  if (napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0) return throw_error(env, "send: socketFd must be a descriptor");
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) return throw_error(env, "send: parts must be an array");
  napi_typeof(env, argv[2], &cb_type);
  if (cb_type != napi_function) return throw_error(env, "send: callback must be a function");

  transfer_t* t = calloc(1, sizeof(transfer_t));
  if (!t) return throw_error(env, "send: out of memory");
  const char* bad = read_parts(env, argv[1], t);
  if (bad) {
    free(t->parts);
    free(t);
    return throw_error(env, bad);
  }
  t->env = env;
  t->work.data = t;
  t->poll.data = t;
  t->sock = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  if (t->sock < 0) {
    int err = errno;
    free(t->parts);
    free(t);
    return throw_errno(env, "send: dup failed", err);
  }
  napi_value resource_name, handle;
  napi_create_string_utf8(env, "BrookSend", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &t->async_context);
  napi_create_reference(env, argv[2], 1, &t->callback);
  napi_create_reference(env, argv[1], 1, &t->parts_ref);
  napi_create_external(env, t, handle_finalize, NULL, &handle);
  napi_get_uv_event_loop(env, &t->loop);
  /* even with nothing to send: the callback never runs inside this call */
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

static napi_value set_send_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t sock, bytes;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0) return throw_error(env, "setSendBuffer: socketFd must be a descriptor");
  if (napi_get_value_int32(env, argv[1], &bytes) != napi_ok || bytes <= 0) return throw_error(env, "setSendBuffer: bytes must be a positive int32");
  if (setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) != 0) return throw_errno(env, "setSendBuffer: setsockopt(SO_SNDBUF) failed", errno);
  int now = 0;
  socklen_t len = sizeof now;
  if (getsockopt(sock, SOL_SOCKET, SO_SNDBUF, &now, &len) != 0) return throw_errno(env, "setSendBuffer: getsockopt(SO_SNDBUF) failed", errno);
  napi_value result;
  napi_create_int32(env, now, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "send", NULL, send_parts, NULL, NULL, NULL, napi_default, NULL },
    { "cancel", NULL, cancel, NULL, NULL, NULL, napi_default, NULL },
    { "setSendBuffer", NULL, set_send_buffer, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
