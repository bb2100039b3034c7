// Command probe is the static, shell-less program of the cst tests' images. Run as "user" it
// prints its user as the distroless nonroot example does; otherwise it runs its arguments as a
// sequence of operations:
//
//	out TEXT   print TEXT and a newline to stdout
//	err TEXT   print TEXT and a newline to stderr
//	env KEY    print KEY=value of the environment variable to stdout
//	sleep D    sleep for the Go duration D
//	exit N     exit with code N
package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if filepath.Base(os.Args[0]) == "user" {
		u, err := user.Current()
		if err != nil {
			fmt.Fprintln(os.Stderr, "user:", err)
			os.Exit(2)
		}
		fmt.Printf("User: %s\nUid: %s\n", u.Username, u.Uid)
		return
	}
	args := os.Args[1:]
	for len(args) >= 2 {
		op, arg := args[0], args[1]
		args = args[2:]
		switch op {
		case "out":
			fmt.Println(arg)
		case "err":
			fmt.Fprintln(os.Stderr, arg)
		case "env":
			fmt.Printf("%s=%s\n", arg, os.Getenv(arg))
		case "sleep":
			d, err := time.ParseDuration(arg)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			time.Sleep(d)
		case "exit":
			n, err := strconv.Atoi(arg)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			os.Exit(n)
		default:
			fmt.Fprintln(os.Stderr, "unknown operation", op)
			os.Exit(2)
		}
	}
	if len(args) > 0 {
		fmt.Fprintln(os.Stderr, "operation without argument:", args[0])
		os.Exit(2)
	}
}
