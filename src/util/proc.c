#include "util/runctl.h"
#include "util/proc.h"

#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* Reads what is available from fd into b; returns 0 on EOF, 1 when open, -1 on overflow. */
static int drain(int fd, struct copa_buf *b)
{
	char chunk[8192];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return (errno == EINTR || errno == EAGAIN) ? 1 : 0;
	if (n == 0)
		return 0;
	if (b && copa_buf_add(b, chunk, (size_t)n) < 0)
		return -1;
	if (!b)
		(void)!write(STDERR_FILENO, chunk, (size_t)n);
	return 1;
}

int copa_proc_run(const struct copa_proc *p, int *status, struct copa_err *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	const char *prog = p->argv[0];
	size_t written = 0;
	long long deadline = p->timeout_ms > 0 ? now_ms() + p->timeout_ms : 0;
	int rc, wstatus = 0, r = 0;
	pid_t pid;
	bool use_stdin_fd = p->stdin_fd > 0;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    (!use_stdin_fd && pipe2(in, O_CLOEXEC) < 0)) {
		close_pair(out);
		close_pair(errp);
		return copa_err_sys(err, COPA_E_IO, errno, "cannot create pipes for '%s'", prog);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
	{
		sigset_t def;

		sigemptyset(&def);
		sigaddset(&def, SIGPIPE);
		posix_spawnattr_setsigdefault(&attr, &def);
	}
	posix_spawnattr_setpgroup(&attr, 0);
	if (use_stdin_fd)
		posix_spawn_file_actions_adddup2(&fa, p->stdin_fd, STDIN_FILENO);
	else
		posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	if (p->out)
		posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
	if (p->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, p->cwd);
	rc = posix_spawnp(&pid, prog, &fa, &attr, (char *const *)(uintptr_t)p->argv,
	                  p->envp ? (char *const *)(uintptr_t)p->envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (in[0] >= 0) {
		close(in[0]);
		in[0] = -1;
	}
	close(out[1]);
	close(errp[1]);
	out[1] = errp[1] = -1;
	if (rc != 0) {
		close_pair(in);
		close_pair(out);
		close_pair(errp);
		if (rc == ENOENT)
			return copa_err_set(err, COPA_E_NOTFOUND, "program '%s' not found in PATH",
			                    prog);
		return copa_err_sys(err, COPA_E_EXEC, rc, "cannot run '%s'", prog);
	}
	if (in[1] >= 0) {
		fcntl(in[1], F_SETFL, O_NONBLOCK);
		if (!p->stdin_data || p->stdin_len == 0) {
			close(in[1]);
			in[1] = -1;
		}
	}
	while (out[0] >= 0 || errp[0] >= 0) {
		struct pollfd pfd[3];
		int n = 0, timeout = -1, pr;
		int io = -1, ie = -1, ii = -1;

		if (out[0] >= 0) {
			pfd[n] = (struct pollfd){out[0], POLLIN, 0};
			io = n++;
		}
		if (errp[0] >= 0) {
			pfd[n] = (struct pollfd){errp[0], POLLIN, 0};
			ie = n++;
		}
		if (in[1] >= 0) {
			pfd[n] = (struct pollfd){in[1], POLLOUT, 0};
			ii = n++;
		}
		if (deadline) {
			long long left = deadline - now_ms();

			if (left <= 0) {
				r = copa_err_set(err, COPA_E_TIMEOUT,
				                 "'%s' did not finish within %d ms and was killed",
				                 prog, p->timeout_ms);
				break;
			}
			timeout = (int)left;
		}
		/* A canceled or late run kills the helper too (it has its own process group). */
		if (copa_runctl_check(err) < 0) {
			r = -1;
			break;
		}
		if (timeout < 0 || timeout > 200)
			timeout = 200;
		pr = poll(pfd, (nfds_t)n, timeout);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			r = copa_err_sys(err, COPA_E_IO, errno, "poll on '%s' failed", prog);
			break;
		}
		if (ii >= 0 && pfd[ii].revents) {
			ssize_t w = write(in[1], (const char *)p->stdin_data + written,
			                  p->stdin_len - written);

			if (w > 0)
				written += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
			    written == p->stdin_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (io >= 0 && pfd[io].revents) {
			int d = drain(out[0], p->out);

			if (d < 0) {
				r = copa_err_set(err, COPA_E_LIMIT,
				                 "'%s' printed more than %zu bytes on stdout", prog,
				                 p->out->max);
				break;
			}
			if (d == 0) {
				close(out[0]);
				out[0] = -1;
			}
		}
		if (ie >= 0 && pfd[ie].revents) {
			int d = drain(errp[0], p->errout);

			if (d < 0) {
				r = copa_err_set(err, COPA_E_LIMIT,
				                 "'%s' printed more than %zu bytes on stderr", prog,
				                 p->errout->max);
				break;
			}
			if (d == 0) {
				close(errp[0]);
				errp[0] = -1;
			}
		}
	}
	if (r < 0)
		kill(-pid, SIGKILL);
	close_pair(in);
	close_pair(out);
	close_pair(errp);
	for (;;) {
		pid_t w = waitpid(pid, &wstatus, deadline && r == 0 ? WNOHANG : 0);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			if (r == 0)
				r = copa_err_sys(err, COPA_E_EXEC, errno, "cannot wait for '%s'",
				                 prog);
			return r;
		}
		if (w == 0) {
			/* Output closed but the child lingers: keep the deadline. */
			if (now_ms() >= deadline) {
				kill(-pid, SIGKILL);
				r = copa_err_set(err, COPA_E_TIMEOUT,
				                 "'%s' did not finish within %d ms and was killed",
				                 prog, p->timeout_ms);
				continue;
			}
			usleep(5000);
		}
	}
	if (r < 0)
		return r;
	if (WIFEXITED(wstatus))
		*status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		*status = 128 + WTERMSIG(wstatus);
	else
		*status = 255;
	return 0;
}
