from gitops_mlops.cli.main import main

main()
