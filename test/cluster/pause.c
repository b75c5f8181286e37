/* The pod sandbox's process for Brook's single-node test cluster (test/cluster): it holds the pod's
 * namespaces and does nothing else. Sleeps until SIGINT or SIGTERM, then exits 0; reaps children
 * it inherits as PID 1. Built static (gcc -static) by scripts/image.ts into brook.dev/pause. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
}
