package certpem_test

import (
	"fmt"
	"os"

	"github.com/hallmark-id/hallmark/internal/certpem"
)

func ExampleParse() {
	data, err := os.ReadFile("testdata/chain.pem")
	if err != nil {
		panic(err)
	}
	chain, err := certpem.Parse(data, certpem.Options{What: "chain.pem", MaxCerts: 8})
	if err != nil {
		panic(err)
	}
	for _, c := range chain {
		fmt.Println(c.Subject.CommonName)
	}
	_, err = certpem.Parse(data, certpem.Options{What: "chain.pem", MaxCerts: 2})
	fmt.Println(err)
	// Output:
	// device-1
	// certpem test issuing
	// certpem test root
	// chain.pem holds more than 2 certificates
}
