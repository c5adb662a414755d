// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @dev Test payee that refuses ETH, to exercise {IVipnodePool-VipnodePoolPaymentFailed}.
contract RejectingPayee {
    error RejectingPayeeRefused(uint256 amount);

    receive() external payable {
        revert RejectingPayeeRefused(msg.value);
    }
}
