package sdk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/vigil-sec/vigil/plugins/sdk/internal/pluginpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Handshake returns the go-plugin handshake between the agent and a parser
// plugin. The magic cookie never changes; ProtocolVersion changes only with
// an incompatible wire format, and the semantic APIVersion is negotiated
// after the start (see Info).
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  1,
		MagicCookieKey:   "VIGIL_PARSER_PLUGIN",
		MagicCookieValue: "9f1c3a64-vigil-parser-plugin",
	}
}

// PluginName is the name the parser is dispensed under.
const PluginName = "parser"

// Serve runs p as an out-of-process parser plugin: the agent starts the
// binary, and Serve answers its calls until the agent goes away. It never
// returns. Call it from main:
//
//	func main() { sdk.Serve(myparser.New()) }
//
// Parse is called by one goroutine at a time. A panic in Parse ends the
// plugin process; the agent restarts it and keeps the record that caused it
// aside (its dead letters), so a parser should still return errors rather
// than panic.
func Serve(p Parser) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake(),
		Plugins:         plugin.PluginSet{PluginName: &GRPCPlugin{Impl: p}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

// GRPCPlugin is the go-plugin glue of a parser. Plugin authors do not use it
// directly (Serve does); the agent's host side uses it with a nil Impl.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Parser
}

// GRPCServer registers the parser service.
func (g *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&parserServiceDesc, &parserServer{impl: g.Impl})
	return nil
}

// GRPCClient returns the host's view of the plugin, a *RemoteParser.
func (g *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &RemoteParser{conn: c}, nil
}

const (
	methodInfo  = "/vigil.parser.v1.Parser/Info"
	methodParse = "/vigil.parser.v1.Parser/ParseBatch"
)

// parserServiceDesc is written out rather than generated so that building
// the SDK needs no gRPC code generator; it has two unary methods.
var parserServiceDesc = grpc.ServiceDesc{
	ServiceName: "vigil.parser.v1.Parser",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Info", Handler: unary(methodInfo, func(s *parserServer, ctx context.Context, in *pluginpb.InfoRequest) (any, error) {
			return s.info(in), nil
		})},
		{MethodName: "ParseBatch", Handler: unary(methodParse, func(s *parserServer, ctx context.Context, in *pluginpb.ParseRequest) (any, error) {
			return s.parse(in), nil
		})},
	},
	Metadata: "parser.proto",
}

func unary[Req any, PReq interface {
	*Req
	protoMessage
}](method string, call func(*parserServer, context.Context, PReq) (any, error)) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		in := PReq(new(Req))
		if err := dec(in); err != nil {
			return nil, err
		}
		s := srv.(*parserServer)
		if icpt == nil {
			return call(s, ctx, in)
		}
		return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, func(ctx context.Context, req any) (any, error) {
			return call(s, ctx, req.(PReq))
		})
	}
}

type protoMessage interface{ ProtoReflect() protoreflect.Message }

// parserServer is the plugin side: it runs the author's Parser.
type parserServer struct {
	mu   sync.Mutex // Parser is used by one goroutine at a time
	impl Parser
	ev   Event
}

func (s *parserServer) info(*pluginpb.InfoRequest) *pluginpb.InfoResponse {
	return &pluginpb.InfoResponse{Id: s.impl.ID(), ApiVersion: APIVersion}
}

func (s *parserServer) parse(in *pluginpb.ParseRequest) *pluginpb.ParseResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &pluginpb.ParseResponse{Events: make([]*pluginpb.Event, len(in.Records))}
	for i, rec := range in.Records {
		s.ev.Reset()
		err := s.impl.Parse(rec, &s.ev)
		pe := &pluginpb.Event{Original: s.ev.Original, Tags: append([]string(nil), s.ev.Tags...)}
		if !s.ev.Timestamp.IsZero() {
			pe.TimestampUnixNano = s.ev.Timestamp.UnixNano()
		}
		switch {
		case errors.Is(err, ErrNotMatched):
			pe.NotMatched = true
		case err != nil:
			pe.Error = err.Error()
		}
		pe.Fields = make([]*pluginpb.Field, len(s.ev.Fields))
		for j, f := range s.ev.Fields {
			pf := &pluginpb.Field{Key: f.Key}
			switch f.Kind {
			case KindInt:
				pf.Value = &pluginpb.Field_Int{Int: f.Int}
			case KindFloat:
				pf.Value = &pluginpb.Field_Float{Float: f.Float}
			case KindBool:
				pf.Value = &pluginpb.Field_Bool{Bool: f.Bool}
			default:
				pf.Value = &pluginpb.Field_Str{Str: f.Str}
			}
			pe.Fields[j] = pf
		}
		out.Events[i] = pe
	}
	return out
}

// RemoteParser is the agent's handle on a running plugin. It is safe for
// concurrent use.
type RemoteParser struct {
	conn *grpc.ClientConn
}

// PluginInfo is what a plugin says of itself at start.
type PluginInfo struct {
	ID         string
	APIVersion string
}

// Info asks the plugin for its id and API version and checks that the
// version is one this SDK can talk to: the same major version, and for
// major version 0 the same minor version (semantic versioning's rule for
// unstable APIs).
func (r *RemoteParser) Info(ctx context.Context) (PluginInfo, error) {
	var out pluginpb.InfoResponse
	if err := r.conn.Invoke(ctx, methodInfo, &pluginpb.InfoRequest{HostApiVersion: APIVersion}, &out); err != nil {
		return PluginInfo{}, fmt.Errorf("plugin info: %w", err)
	}
	info := PluginInfo{ID: out.Id, APIVersion: out.ApiVersion}
	if err := CompatibleAPI(APIVersion, out.ApiVersion); err != nil {
		return info, err
	}
	if !strings.Contains(info.ID, ".") {
		return info, fmt.Errorf("plugin id %q: want a dotted component id such as parser.acme_fw", info.ID)
	}
	return info, nil
}

// CompatibleAPI reports whether a plugin built with API version plugin can
// serve a host at version host.
func CompatibleAPI(host, plugin string) error {
	hm, hn, err := majorMinor(host)
	if err != nil {
		return fmt.Errorf("host API version %q: %w", host, err)
	}
	pm, pn, err := majorMinor(plugin)
	if err != nil {
		return fmt.Errorf("plugin API version %q: %w", plugin, err)
	}
	if hm != pm || (hm == 0 && hn != pn) {
		return fmt.Errorf("plugin built with SDK API %s, agent speaks %s: rebuild the plugin with a compatible SDK", plugin, host)
	}
	return nil
}

func majorMinor(v string) (int, int, error) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, errors.New("not a semantic version")
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || ma < 0 || mi < 0 {
		return 0, 0, errors.New("not a semantic version")
	}
	return ma, mi, nil
}

// ParseBatch sends records to the plugin and fills evs (which must have
// len(records) entries) with the results. errs[i] is the parser's error for
// record i (ErrNotMatched included), nil on success. The returned error is
// a transport failure: the plugin crashed, hung past ctx's deadline, or
// broke the protocol; evs and errs are then not valid.
func (r *RemoteParser) ParseBatch(ctx context.Context, records [][]byte, evs []Event, errs []error) error {
	var out pluginpb.ParseResponse
	if err := r.conn.Invoke(ctx, methodParse, &pluginpb.ParseRequest{Records: records}, &out); err != nil {
		return fmt.Errorf("plugin parse: %w", err)
	}
	if len(out.Events) != len(records) {
		return fmt.Errorf("plugin parse: %d events for %d records", len(out.Events), len(records))
	}
	for i, pe := range out.Events {
		ev := &evs[i]
		ev.Reset()
		ev.Original = pe.Original
		if pe.TimestampUnixNano != 0 {
			ev.Timestamp = time.Unix(0, pe.TimestampUnixNano).UTC()
		}
		ev.Tags = append(ev.Tags, pe.Tags...)
		for _, f := range pe.Fields {
			switch v := f.Value.(type) {
			case *pluginpb.Field_Int:
				ev.SetInt(f.Key, v.Int)
			case *pluginpb.Field_Float:
				ev.SetFloat(f.Key, v.Float)
			case *pluginpb.Field_Bool:
				ev.SetBool(f.Key, v.Bool)
			case *pluginpb.Field_Str:
				ev.SetStr(f.Key, v.Str)
			}
		}
		switch {
		case pe.NotMatched:
			errs[i] = ErrNotMatched
		case pe.Error != "":
			errs[i] = errors.New(pe.Error)
		default:
			errs[i] = nil
		}
	}
	return nil
}
