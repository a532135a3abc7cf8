{{- /* The pod of the agent, shared by the Deployment (one replica collecting every site) and
the StatefulSet (shards > 1: each replica collects its shard). */ -}}
{{- define "nbu-otel.sharded" -}}
{{- if gt (int .Values.shards) 1 }}true{{ end -}}
{{- end -}}
{{- define "nbu-otel.pod" -}}
metadata:
  labels:
    {{- include "nbu-otel.selector" . | nindent 4 }}
  annotations:
    checksum/config: {{ toYaml .Values.config | sha256sum }}
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    seccompProfile: { type: RuntimeDefault }
    {{- if and .Values.events.enabled .Values.events.persistence.enabled }}
    # The claim's files belong to the agent's group.
    fsGroup: 65532
    {{- end }}
  containers:
    - name: nbu-otel
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["run", "--config", "/etc/nbu-otel/nbu-otel.yaml"]
      env:
        # A stable instance id per pod: series continue across container restarts.
        - name: NBU_OTEL_SERVICE__INSTANCE_ID
          valueFrom: { fieldRef: { fieldPath: metadata.name } }
        {{- if include "nbu-otel.sharded" . }}
        # The same config in every replica; each collects the sites of its shard, the one its
        # pod's ordinal names (<release>-nbu-otel-2 is shard 2).
        - name: HOSTNAME
          valueFrom: { fieldRef: { fieldPath: metadata.name } }
        - name: NBU_OTEL_SHARDING__COUNT
          value: {{ .Values.shards | quote }}
        - name: NBU_OTEL_SHARDING__INDEX
          value: from_hostname
        {{- end }}
        {{- if .Values.events.enabled }}
        - name: NBU_OTEL_EVENTS__ENABLED
          value: "true"
        - name: NBU_OTEL_EVENTS__STATE_DIR
          value: {{ .Values.events.stateDir | quote }}
        {{- end }}
      {{- with .Values.existingSecretEnv }}
      envFrom:
        - secretRef: { name: {{ . }} }
      {{- end }}
      ports:
        - { name: http, containerPort: {{ .Values.service.port }} }
      livenessProbe:
        httpGet: { path: /healthz, port: http }
        periodSeconds: 20
      readinessProbe:
        httpGet: { path: /readyz, port: http }
        periodSeconds: 20
        timeoutSeconds: 6
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: { drop: [ALL] }
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - { name: config, mountPath: /etc/nbu-otel, readOnly: true }
        {{- if .Values.events.enabled }}
        - { name: events-state, mountPath: {{ .Values.events.stateDir }} }
        {{- end }}
  volumes:
    - name: config
      secret:
        secretName: {{ include "nbu-otel.fullname" . }}
        defaultMode: 0400
    {{- if and .Values.events.enabled (not (and (include "nbu-otel.sharded" .) .Values.events.persistence.enabled)) }}
    # Sharded with persistence, each pod gets its own claim from the StatefulSet instead.
    - name: events-state
      {{- if .Values.events.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ .Values.events.persistence.existingClaim | default (printf "%s-events" (include "nbu-otel.fullname" .)) }}
      {{- else }}
      emptyDir: { sizeLimit: 64Mi }
      {{- end }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity: {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
