/* splice-proxy LISTEN_PORT TARGET_IP TARGET_PORT: a userspace TCP proxy on
 * 127.0.0.1 that relays with splice() (a thread per direction). bench/network
 * measures it against the kernel's DNAT, the alternative the networking issue
 * asked us to weigh for ports published on 127.0.0.1. Not installed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in target;

struct pair {
	int from, to;
};

static void *relay(void *data)
{
	struct pair *p = data;
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC) == 0) {
		fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
		for (;;) {
			ssize_t n = splice(p->from, NULL, pipefd[1], NULL, 1 << 20, SPLICE_F_MOVE);
			if (n <= 0)
				break;
			while (n > 0) {
				ssize_t m = splice(pipefd[0], NULL, p->to, NULL, n, SPLICE_F_MOVE);
				if (m <= 0)
					goto out;
				n -= m;
			}
		}
	out:
		close(pipefd[0]);
		close(pipefd[1]);
	}
	shutdown(p->to, SHUT_WR);
	free(p);
	return NULL;
}

static void *connection(void *data)
{
	int client = (int)(long)data;
	int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t a, b;

	if (server < 0 || connect(server, (struct sockaddr *)&target, sizeof(target)) < 0) {
		close(client);
		if (server >= 0)
			close(server);
		return NULL;
	}
	struct pair *up = malloc(sizeof(*up)), *down = malloc(sizeof(*down));
	*up = (struct pair){client, server};
	*down = (struct pair){server, client};
	pthread_create(&a, NULL, relay, up);
	pthread_create(&b, NULL, relay, down);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	close(client);
	close(server);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	int one = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: splice-proxy LISTEN_PORT TARGET_IP TARGET_PORT\n");
		return 2;
	}
	addr.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	target.sin_family = AF_INET;
	target.sin_port = htons((unsigned short)atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &target.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0) {
		perror("splice-proxy");
		return 1;
	}
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;
		if (c < 0)
			continue;
		pthread_create(&t, NULL, connection, (void *)(long)c);
		pthread_detach(t);
	}
}
