package server

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dseek-ai/dseek/engine"
)

// metrics are the server's Prometheus instruments. Scheduler state is read
// at scrape time (schedCollector); latencies are observed by the handlers.
type metrics struct {
	ttft     prometheus.Histogram
	itl      prometheus.Histogram
	duration *prometheus.HistogramVec
	requests *prometheus.CounterVec
}

// latencyBuckets span 1 ms to about 2 minutes.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 18)

// newMetrics registers everything on reg.
func newMetrics(reg *prometheus.Registry, sched *engine.Scheduler) *metrics {
	m := &metrics{
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dseek_time_to_first_token_seconds",
			Help: "Time from a generation request's arrival to its first generated token.", Buckets: latencyBuckets}),
		itl: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dseek_inter_token_latency_seconds",
			Help: "Time between consecutive generated tokens of a request.", Buckets: latencyBuckets}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dseek_request_duration_seconds",
			Help: "Time from a generation request's arrival to its last token.", Buckets: latencyBuckets}, []string{"endpoint"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dseek_http_requests_total",
			Help: "HTTP requests served, by endpoint and status code."}, []string{"endpoint", "code"}),
	}
	reg.MustRegister(m.ttft, m.itl, m.duration, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newSchedCollector(sched))
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// instrument counts the responses of an endpoint.
func (s *Server) instrument(endpoint string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next(sw, r)
		s.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(sw.code)).Inc()
	})
}

// statusWriter records the status code; Unwrap lets http.ResponseController
// reach the real writer's Flush.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// schedCollector exports engine.Stats at scrape time, under dseek_ names
// and, for the gauges the Gateway API Inference Extension's endpoint
// picker reads (its model-server protocol names vLLM's metrics), under
// vLLM's names too.
type schedCollector struct {
	sched *engine.Scheduler
	descs map[string]*prometheus.Desc
}

// schedMetric is one exported value: name, help, type, labels.
type schedMetric struct {
	name, help string
	kind       prometheus.ValueType
	labels     []string
}

var schedMetrics = []schedMetric{
	{"dseek_requests_running", "Requests in the running set (prefilling or decoding).", prometheus.GaugeValue, nil},
	{"dseek_requests_waiting", "Requests queued for a free slot.", prometheus.GaugeValue, nil},
	{"dseek_parallel_slots", "Bound on running requests (--parallel).", prometheus.GaugeValue, nil},
	{"dseek_queue_capacity", "Bound on queued requests beyond the free slots (--queue).", prometheus.GaugeValue, nil},
	{"dseek_kv_cache_usage_ratio", "Fraction of KV cache pages held by running requests (0 to 1).", prometheus.GaugeValue, nil},
	{"dseek_kv_cache_pages", "KV cache pages: active (running requests), used (also the prefix cache), total.", prometheus.GaugeValue, []string{"state"}},
	{"dseek_kv_cache_page_tokens", "Tokens per KV cache page.", prometheus.GaugeValue, nil},
	{"dseek_prefix_cache_entries", "Cached prefixes kept for reuse.", prometheus.GaugeValue, nil},
	{"dseek_prefix_cache_tokens", "Tokens held by cached prefixes.", prometheus.GaugeValue, nil},
	{"dseek_prompt_tokens_total", "Prompt tokens of admitted requests.", prometheus.CounterValue, nil},
	{"dseek_prefill_tokens_total", "Prompt tokens evaluated (not served from the prefix cache).", prometheus.CounterValue, nil},
	{"dseek_prefix_cache_hit_tokens_total", "Prompt tokens served from the prefix cache.", prometheus.CounterValue, nil},
	{"dseek_generation_tokens_total", "Tokens generated.", prometheus.CounterValue, nil},
	{"dseek_scheduler_steps_total", "Forward passes run by the scheduler.", prometheus.CounterValue, nil},
	{"dseek_scheduler_step_tokens_total", "Tokens carried by the scheduler's forward passes.", prometheus.CounterValue, nil},
	{"dseek_requests_admitted_total", "Requests that entered the running set.", prometheus.CounterValue, nil},
	{"dseek_requests_finished_total", "Requests finished, by stop reason.", prometheus.CounterValue, []string{"reason"}},
	{"dseek_requests_rejected_total", "Requests refused because the queue was full (HTTP 429).", prometheus.CounterValue, nil},
	{"dseek_preemptions_total", "Requests ended early because the KV cache had no room.", prometheus.CounterValue, nil},
	{"vllm:num_requests_running", "Alias of dseek_requests_running (vLLM name).", prometheus.GaugeValue, nil},
	{"vllm:num_requests_waiting", "Alias of dseek_requests_waiting (vLLM name).", prometheus.GaugeValue, nil},
	{"vllm:kv_cache_usage_perc", "Alias of dseek_kv_cache_usage_ratio (vLLM name; 1 means 100%).", prometheus.GaugeValue, nil},
	{"vllm:gpu_cache_usage_perc", "Alias of dseek_kv_cache_usage_ratio (older vLLM name).", prometheus.GaugeValue, nil},
	{"vllm:cache_config_info", "KV cache geometry: block_size tokens per page, num_gpu_blocks pages.", prometheus.GaugeValue, []string{"block_size", "num_gpu_blocks"}},
	{"vllm:prompt_tokens_total", "Alias of dseek_prompt_tokens_total.", prometheus.CounterValue, nil},
	{"vllm:generation_tokens_total", "Alias of dseek_generation_tokens_total.", prometheus.CounterValue, nil},
	{"vllm:prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache (= dseek_prompt_tokens_total).", prometheus.CounterValue, nil},
	{"vllm:prefix_cache_hits_total", "Alias of dseek_prefix_cache_hit_tokens_total.", prometheus.CounterValue, nil},
	{"vllm:num_preemptions_total", "Alias of dseek_preemptions_total.", prometheus.CounterValue, nil},
}

func newSchedCollector(s *engine.Scheduler) *schedCollector {
	c := &schedCollector{sched: s, descs: map[string]*prometheus.Desc{}}
	for _, m := range schedMetrics {
		c.descs[m.name] = prometheus.NewDesc(m.name, m.help, m.labels, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *schedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *schedCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.sched.Stats()
	usage := 0.0
	if st.KVPagesTotal > 0 {
		usage = float64(st.KVPagesActive) / float64(st.KVPagesTotal)
	}
	emit := func(name string, v float64, labels ...string) {
		m := schedMetricByName(name)
		ch <- prometheus.MustNewConstMetric(c.descs[name], m.kind, v, labels...)
	}
	for _, p := range [][2]string{{"dseek_requests_running", "vllm:num_requests_running"}, {"dseek_requests_waiting", "vllm:num_requests_waiting"}} {
		v := float64(st.Running)
		if p[0] == "dseek_requests_waiting" {
			v = float64(st.Waiting)
		}
		emit(p[0], v)
		emit(p[1], v)
	}
	emit("dseek_parallel_slots", float64(st.Parallel))
	emit("dseek_queue_capacity", float64(st.MaxQueue))
	for _, n := range []string{"dseek_kv_cache_usage_ratio", "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"} {
		emit(n, usage)
	}
	emit("dseek_kv_cache_pages", float64(st.KVPagesActive), "active")
	emit("dseek_kv_cache_pages", float64(st.KVPagesUsed), "used")
	emit("dseek_kv_cache_pages", float64(st.KVPagesTotal), "total")
	emit("dseek_kv_cache_page_tokens", float64(st.KVPageSize))
	emit("vllm:cache_config_info", 1, strconv.Itoa(st.KVPageSize), strconv.Itoa(st.KVPagesTotal))
	emit("dseek_prefix_cache_entries", float64(st.PrefixEntries))
	emit("dseek_prefix_cache_tokens", float64(st.PrefixTokens))
	c.counters(st, emit)
}

// counters emits the counter metrics.
func (c *schedCollector) counters(st engine.Stats, emit func(string, float64, ...string)) {
	for name, v := range map[string]uint64{
		"dseek_prompt_tokens_total": st.PromptTokens, "vllm:prompt_tokens_total": st.PromptTokens,
		"vllm:prefix_cache_queries_total":     st.PromptTokens,
		"dseek_prefill_tokens_total":          st.PrefillTokens,
		"dseek_prefix_cache_hit_tokens_total": st.CachedTokens, "vllm:prefix_cache_hits_total": st.CachedTokens,
		"dseek_generation_tokens_total": st.GeneratedTokens, "vllm:generation_tokens_total": st.GeneratedTokens,
		"dseek_scheduler_steps_total": st.Steps, "dseek_scheduler_step_tokens_total": st.StepTokens,
		"dseek_requests_admitted_total": st.Admitted, "dseek_requests_rejected_total": st.Rejected,
		"dseek_preemptions_total": st.Preempted, "vllm:num_preemptions_total": st.Preempted,
	} {
		emit(name, float64(v))
	}
	for reason, v := range st.FinishedBy {
		emit("dseek_requests_finished_total", float64(v), reason)
	}
}

// schedMetricByName finds a metric's definition.
func schedMetricByName(name string) schedMetric {
	for _, m := range schedMetrics {
		if m.name == name {
			return m
		}
	}
	return schedMetric{kind: prometheus.UntypedValue}
}
