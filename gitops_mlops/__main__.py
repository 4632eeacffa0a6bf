from gitops_mlops.cli import main

main()
