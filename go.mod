module github.com/mxadmin/synapse

go 1.26

require (
	github.com/hashicorp/go-retryablehttp v0.7.8
	github.com/stretchr/testify v1.12.1
	go.yaml.in/yaml/v3 v3.0.5
	golang.org/x/crypto v0.44.0
	golang.org/x/sys v0.38.0
	golang.org/x/text v0.31.0
)

require github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
