{{/* Name of the release's objects: <release>-backstop, or the release name when it already says backstop. */}}
{{- define "backstop.fullname" -}}
{{- if contains "backstop" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-backstop" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "backstop.labels" -}}
app.kubernetes.io/name: backstop
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: backstop
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "bot"). */}}
{{- define "backstop.selector" -}}
app.kubernetes.io/name: backstop
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "backstop.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The hardened pod security context (Pod Security "restricted"). */}}
{{- define "backstop.podSecurity" -}}
runAsNonRoot: true
runAsUser: {{ .uid | default 1000 }}
runAsGroup: {{ .uid | default 1000 }}
fsGroup: {{ .uid | default 1000 }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "backstop.containerSecurity" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "backstop.redisUrl" -}}
redis://{{ include "backstop.fullname" . }}-redis:6379
{{- end -}}

{{/* Environment the bot and the worker share: Redis, Slack credentials, the alert token. */}}
{{- define "backstop.commonEnv" -}}
- name: REDIS_URL
{{- if .Values.redis.bundled }}
  value: {{ include "backstop.redisUrl" . | quote }}
{{- else }}
  valueFrom:
    secretKeyRef: { name: {{ .Values.secrets.existingSecret }}, key: REDIS_URL }
{{- end }}
- name: SLACK_BOT_TOKEN
  valueFrom:
    secretKeyRef: { name: {{ .Values.secrets.existingSecret }}, key: SLACK_BOT_TOKEN }
- name: SLACK_SIGNING_SECRET
  valueFrom:
    secretKeyRef: { name: {{ .Values.secrets.existingSecret }}, key: SLACK_SIGNING_SECRET }
- name: SLACK_APP_TOKEN
  valueFrom:
    secretKeyRef: { name: {{ .Values.secrets.existingSecret }}, key: SLACK_APP_TOKEN, optional: true }
- name: BACKSTOP_ALERT_TOKEN
  valueFrom:
    secretKeyRef: { name: {{ .Values.secrets.existingSecret }}, key: BACKSTOP_ALERT_TOKEN }
{{- end -}}
