package command

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/hub/api"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runEventsSearch(env Env, args []string) error {
	fs, cf := apiFlags("events search", env)
	from := fs.String("from", "", "start of the event-time range: RFC 3339, Unix ns, or -DURATION (e.g. -1h)")
	to := fs.String("to", "", "end of the range (exclusive)")
	agent := fs.String("agent", "", "only this agent ID")
	branch := fs.String("branch", "", "only this branch")
	limit := fs.Int("limit", 100, "maximum events to print (all pages)")
	stale := fs.Bool("stale", false, "allow a stale read from this node instead of a linearizable one")
	var fields multiFlag
	fs.Var(&fields, "field", "NAME=VALUE equality filter on an ECS field; repeatable")
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"from": *from, "to": *to, "agent": *agent, "branch": *branch} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return &usageError{fmt.Sprintf("-field %q: want NAME=VALUE", f)}
		}
		q.Set("field."+k, v)
	}
	if *stale {
		q.Set("stale", "")
	}
	printed := 0
	enc := json.NewEncoder(env.Stdout)
	for printed < *limit {
		q.Set("limit", strconv.Itoa(min(*limit-printed, 1000)))
		var res api.EventsResponse
		if err := c.Do("GET", "/v1/events", q, nil, &res); err != nil {
			return err
		}
		for _, e := range res.Events {
			if err := enc.Encode(e); err != nil {
				return err
			}
			printed++
		}
		if res.Next == "" {
			break
		}
		q.Set("cursor", res.Next)
	}
	return nil
}

func runEventsCounts(env Env, args []string) error {
	fs, cf := apiFlags("events counts", env)
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	var res api.CountsResponse
	if err := c.Do("GET", "/v1/events/counts", nil, nil, &res); err != nil {
		return err
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
