/* container image push|save|load: images leaving or entering the store whole. */
#ifndef CONTAINER_CLI_IMAGE_TRANSFER_H
#define CONTAINER_CLI_IMAGE_TRANSFER_H

/* argv[0] is the sub-command's name, as for the other `image` sub-commands. */
int image_push(int argc, char **argv);
int image_save(int argc, char **argv);
int image_load(int argc, char **argv);

#endif
