# bash completion for container
_container() {
	local cur prev words cword
	_init_completion || return
	local groups="system plugin help"
	case $cword in
	1)
		COMPREPLY=($(compgen -W "$groups --help --version --debug" -- "$cur"))
		return
		;;
	esac
	case ${words[1]} in
	system)
		if [ "$cword" -eq 2 ]; then
			COMPREPLY=($(compgen -W "start stop status version logs property" -- "$cur"))
		elif [ "${words[2]}" = property ] && [ "$cword" -eq 3 ]; then
			COMPREPLY=($(compgen -W "list get set clear" -- "$cur"))
		elif [ "${words[2]}" = property ] && [ "$cword" -eq 4 ]; then
			COMPREPLY=($(compgen -W "dns.domain network.subnet registry.domain" -- "$cur"))
		else
			case ${words[2]} in
			start) COMPREPLY=($(compgen -W "--app-root --install-root --log-root --timeout --debug" -- "$cur")) ;;
			stop) COMPREPLY=($(compgen -W "--timeout" -- "$cur")) ;;
			status | version) COMPREPLY=($(compgen -W "--format" -- "$cur")) ;;
			logs) COMPREPLY=($(compgen -W "--follow --last" -- "$cur")) ;;
			esac
		fi
		;;
	plugin)
		if [ "$cword" -eq 2 ]; then
			COMPREPLY=($(compgen -W "list get load unload restart" -- "$cur"))
		elif [ "$cword" -eq 3 ] && [ "${words[2]}" != list ]; then
			COMPREPLY=($(compgen -W "$(container plugin list -q 2>/dev/null)" -- "$cur"))
		fi
		;;
	esac
}
complete -F _container container
