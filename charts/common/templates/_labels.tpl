{{/* Labels: the recommended app.kubernetes.io set. */}}

{{/* common.matchLabels: every pod of this release of the service (server, migration, test). */}}
{{- define "common.matchLabels" -}}
app.kubernetes.io/name: {{ include "common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* common.selectorLabels: the serving pods only (Deployment, Service, PDB); never change them. */}}
{{- define "common.selectorLabels" -}}
{{ include "common.matchLabels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{/* common.labelsFor: every object's labels, for a component: (list . "component"). */}}
{{- define "common.labelsFor" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ include "common.chart" $ }}
{{ include "common.matchLabels" $ }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/version: {{ (coalesce $.Values.image.tag (($.Values.global | default dict).image | default dict).tag $.Chart.AppVersion) | toString | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/part-of: csi
{{- end -}}

{{/* common.labels: the labels of the server's objects. */}}
{{- define "common.labels" -}}
{{ include "common.labelsFor" (list . "server") }}
{{- end -}}
