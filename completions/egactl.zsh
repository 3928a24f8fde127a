#compdef egactl

_egactl_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _EGACTL_COMPLETE=complete_zsh egactl)
}

compdef _egactl_completion egactl
