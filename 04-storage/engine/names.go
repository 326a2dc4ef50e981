package engine

import (
	"crypto/rand"
	"math/big"
)

// Docker names a container that got no --name adjective_surname, from two
// lists of its own; these are ours (scientists and engineers of computing).
var (
	adjectives = []string{"admiring", "amazing", "bold", "brave", "calm", "clever", "cool", "dazzling", "eager", "elegant",
		"epic", "fervent", "festive", "gallant", "gifted", "happy", "hopeful", "jolly", "keen", "kind", "lucid", "modest",
		"nifty", "nostalgic", "peaceful", "quirky", "relaxed", "serene", "sharp", "stoic", "sweet", "tender", "trusting",
		"upbeat", "vibrant", "wizardly", "youthful", "zealous"}
	surnames = []string{"babbage", "backus", "bell", "cerf", "codd", "corbato", "dijkstra", "engelbart", "hamilton",
		"hopper", "kahn", "kernighan", "knuth", "lamport", "liskov", "lovelace", "mccarthy", "minsky", "moore", "noyce",
		"pike", "ritchie", "shannon", "stallman", "sutherland", "tanenbaum", "thompson", "torvalds", "turing", "wirth",
		"wozniak", "yonath"}
)

func pick(list []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	if err != nil {
		panic(err)
	}
	return list[n.Int64()]
}

// randomName is adjective_surname, with a digit appended after collisions
// (as Docker does on a retry).
func randomName(retry int) string {
	name := pick(adjectives) + "_" + pick(surnames)
	if retry > 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(100))
		name += n.String()
	}
	return name
}
