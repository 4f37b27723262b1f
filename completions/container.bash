# bash completion for container
