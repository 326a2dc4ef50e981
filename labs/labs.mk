# labs/labs.mk: the homework targets, included from the top Makefile.
# See labs/README.md.
#
#   make handout [OUT=handout] [FROM=01]   the student copy, built and vetted
#   sudo make grade [LAB=NN]               the scoreboard (+ grade-report.json)
#   sudo make labs-check                   reference 100%, handout 0%, each task 0 on its own stub
# (as root, without the sudo)

GO ?= go
OUT ?= handout
FROM ?= 01
LAB ?=

.PHONY: handout grade labs-check

handout: ## the student copy in $(OUT)/: labs $(FROM) and later to do, earlier ones solved
	$(GO) run ./labs/cmd/handout -out $(OUT) -from $(FROM) -verify
	@$(GIVE_BACK) $(OUT)

grade: ## grade lab $(LAB) and every earlier lab (all labs without LAB); writes grade-report.json
	$(GO) run ./labs/cmd/grade $(if $(LAB),-lab $(LAB)) -json grade-report.json; \
	  status=$$?; [ ! -e grade-report.json ] || $(GIVE_BACK) grade-report.json; exit $$status

labs-check: ## the reference scores 100%, the handout builds and scores 0, each task scores 0 on its own stub
	labs/check.sh
