# vm/vm.mk: the VM targets, included from the top Makefile. See vm/README.md.
#
#   sudo make vm-test        the root tests of vm/packages.txt on a real cgroup v2
#                            kernel under QEMU (TCG); last line:
#                            vm-test: kernel X.Y, cgroup v2, N passed, 0 failed
#   sudo make vm-validate    vagrant validate, the devcontainer CLI and a strict
#                            JSONC parse of .devcontainer/devcontainer.json

.PHONY: vm-test vm-validate

vm-test: ## the lessons' root tests in a cgroup v2 VM (QEMU, no KVM needed)
	vm/test.sh

vm-validate: ## check the Vagrantfile and the devcontainer without starting them
	vm/validate.sh
