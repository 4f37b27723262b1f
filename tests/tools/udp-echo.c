/* udp-echo PORT: answers every UDP datagram on PORT with "echo: " and the
 * datagram. The e2e tests compile it statically and put it into a busybox image
 * (Debian's busybox has no UDP server) to check published UDP ports. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	char buf[2048], reply[2100];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: udp-echo PORT\n");
		return 2;
	}
	addr.sin_port = htons((unsigned short)atoi(argv[1]));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("udp-echo");
		return 1;
	}
	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		if (n < 0)
			continue;
		int m = snprintf(reply, sizeof(reply), "echo: %.*s", (int)n, buf);
		sendto(fd, reply, (size_t)m, 0, (struct sockaddr *)&from, len);
	}
}
