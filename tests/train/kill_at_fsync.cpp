// A test-only shared library the kill -9 test (test_kill_resume.cpp) LD_PRELOADs into
// `emrrg train`: it replaces libc's fsync, and with EMRRG_KILL_AT_FSYNC=N in the environment the
// process SIGKILLs itself on entering the N-th fsync inside a checkpoint write. That is a kill
// at an exact point of the checkpoint protocol (after one file is written, before the state,
// before or after the rename, while pruning), which an outside kill hits only by luck.
//
// Inside a checkpoint write: counting starts with the first fsync of a file in a checkpoint's
// temporary folder (checkpoints/.tmp-step_*) and covers every later fsync of a path under
// checkpoints/ (the files, the temporary folder, checkpoints/ after the rename and the pruning).
// The resume's clean-up of a half-written checkpoint, log.jsonl and best.json are not counted.
// Before the kill it writes "kill_at_fsync: SIGKILL at fsync N of PATH" to stderr.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

long kill_at = 0;    // N, 0: never
long counted = 0;    // fsyncs counted so far
bool armed = false;  // a checkpoint write has begun

__attribute__((constructor)) void read_environment() {
  if (const char* n = std::getenv("EMRRG_KILL_AT_FSYNC")) kill_at = std::atol(n);
}

}  // namespace

extern "C" int fsync(int fd) {
  if (kill_at > 0) {
    // Checkpoints are written by one thread; the counters need no lock.
    char link[64], path[4096];
    std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = '\0';
    if (std::strstr(path, "/checkpoints/.tmp-step_")) armed = true;
    if (armed && std::strstr(path, "/checkpoints") && ++counted == kill_at) {
      char message[4200];
      const int len =
          std::snprintf(message, sizeof(message), "kill_at_fsync: SIGKILL at fsync %ld of %s\n", counted, path);
      if (len > 0) (void)!write(STDERR_FILENO, message, static_cast<size_t>(len));
      raise(SIGKILL);
    }
  }
  return static_cast<int>(syscall(SYS_fsync, fd));
}
